"""Bounce and complaint messages for tests, made from the shared corpus with our own recipients.

Templates are read in place from ``../shared/corpus/bounces`` (other licences: never copied
here). Tests that need them skip, loudly, when the corpus is absent.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from vault.bounces import parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bounces"

# template file -> the recipient it reports on, and what it is
CORPORATE_HARD = ("lhost-postfix-04.eml", "kijitora@example.co.jp")  # 5.1.1 user unknown
CONSUMER_HARD = ("lhost-postfix-31.eml", "kijitora@gmail.com")  # 5.1.1 at Gmail
SPAM_BLOCK = ("lhost-barracuda-01.eml", "kijitora@example.org")  # 5.7.1 spam rejection
MAILBOX_FULL = ("lhost-amazonworkmail-04.eml", "chatoraneko@example.jp")  # 5.2.2
COMPLAINT = ("arf-14.eml", "kijitora@y.example.com")  # ARF abuse report
DELIVERED = ("rfc3464-28.eml", "kijitora@neko.example.jp")  # DSN Action: delivered


def need_corpus() -> Path:
    if not (CORPUS / "expected.tsv").is_file():
        pytest.skip(f"!!! the shared bounce corpus is absent (looked in {CORPUS}) !!!")
    return CORPUS


def template(name: str) -> bytes:
    return (need_corpus() / name).read_bytes()


# A top-level Message-ID field with any folded continuation lines.
_MESSAGE_ID_FIELD = re.compile(rb"(?im)^message-id:.*(?:\r?\n[ \t].*)*\r?\n")


def message_for(kind: tuple[str, str], recipient: str) -> bytes:
    """The template's message, reporting on ``recipient`` instead of its own recipient, under
    a Message-ID of its own: each call is a new bounce, as each real one is (the same bytes
    ingested twice are one report, see ``vault.deliveries.reports.message_identity``)."""
    name, original = kind
    raw = template(name)
    # Drop an mbox "From " line a template may start with, so messages can be joined into one.
    if raw.startswith(b"From "):
        raw = raw.partition(b"\n")[2]
    header, blank, body = raw.partition(b"\n\n")
    header = _MESSAGE_ID_FIELD.sub(b"", header + b"\n").rstrip(b"\n")
    raw = (
        b"Message-ID: <%s@bounces.test.example>\n" % uuid.uuid4().hex.encode()
        + header
        + blank
        + body
    )
    pattern = re.compile(re.escape(original.encode()), re.IGNORECASE)
    changed = pattern.sub(recipient.encode().replace(b"\\", b"\\\\"), raw)
    found = [r.recipient for r in parse_message(changed).recipients]
    assert recipient.lower() in found, f"{name}: substitution did not take ({found})"
    return changed


def mbox(messages: list[bytes]) -> bytes:
    """An mboxrd mailbox of the messages."""
    parts = []
    for raw in messages:
        body = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
        parts.append(
            b"From MAILER-DAEMON Sun Mar  1 09:30:00 2026\n" + body.rstrip(b"\n") + b"\n\n"
        )
    return b"".join(parts)
