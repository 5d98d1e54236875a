"""From raw messages to reports (pure), and what of a diagnostic may be stored."""

from __future__ import annotations

import pytest

from tests.conftest import START
from tests.deliveries.messages import COMPLAINT, CORPORATE_HARD, message_for, template
from vault.addresses import parse_address
from vault.bounces import Action, Kind
from vault.deliveries import read_message, scrub_diagnostic
from vault.deliveries.models import DIAGNOSTIC_CHARS, OutcomeSource


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"just some text\nwith no header\n", "no mail header"),
        (b"\x00\x01\x02binary", "no mail header"),
        (b"Subject: x\n\n" + b"a" * (20 * 1024 * 1024), "larger than 20 MiB"),
    ],
)
def test_unreadable_messages_say_why(raw: bytes, why: str) -> None:
    result = read_message(raw, now=START)
    assert result.kind is Kind.NONE and not result.reports
    assert result.unreadable is not None and why in result.unreadable


def test_a_plain_message_is_readable_but_no_bounce() -> None:
    result = read_message(b"From: a@b.example\nSubject: hello\n\nhi\n", now=START)
    assert result.unreadable is None and not result.reports


def test_a_leading_mbox_separator_is_tolerated() -> None:
    raw = b"From someone Sun Mar  1 09:30:00 2026\n" + message_for(CORPORATE_HARD, "x@y.example")
    assert read_message(raw, now=START).reports


def test_reports_carry_source_action_and_time() -> None:
    [bounce] = read_message(message_for(CORPORATE_HARD, "x@corp.example"), now=START).reports
    assert (bounce.source, bounce.action, bounce.occurred_at) == (
        OutcomeSource.DSN,
        Action.CONFIRM,
        START,
    )
    [complaint] = read_message(message_for(COMPLAINT, "x@corp.example"), now=START).reports
    assert (complaint.source, complaint.action) == (OutcomeSource.ARF, Action.SUPPRESS)
    assert "x@" not in repr(complaint)


def test_a_recipient_that_is_no_address_is_skipped_and_named() -> None:
    name, original = CORPORATE_HARD
    raw = template(name).replace(original.encode(), b"a" * 70 + b"@corp.example")
    result = read_message(raw, now=START)
    assert result.kind is Kind.DSN and not result.reports
    assert result.unusable == ("the local part is 70 octets long, over the 64 allowed",)


def test_scrub_removes_addresses_and_the_bare_local_part() -> None:
    address = parse_address("Kijitora.Neko@example.jp")
    text = (
        '550 5.1.1 <kijitora.neko@example.jp>: unknown user: "Kijitora.Neko"; '
        "mailbox KIJITORA.NEKO is gone; see /var/mail/kijitora.neko and kijitora.nekoXY"
    )
    scrubbed = scrub_diagnostic(text, address)
    assert scrubbed is not None
    assert "kijitora.neko" not in scrubbed.lower().replace("kijitora.nekoxy", "")
    assert "550 5.1.1" in scrubbed and "unknown user" in scrubbed


def test_scrub_leaves_short_local_parts_inside_words_alone() -> None:
    scrubbed = scrub_diagnostic("r said: user r unknown at r.example.org", parse_address("r@x.jp"))
    assert scrubbed == "<redacted> said: user <redacted> unknown at r.example.org"


def test_scrub_caps_and_collapses() -> None:
    address = parse_address("a@b.example")
    assert scrub_diagnostic(None, address) is None
    assert scrub_diagnostic("  ", address) is None
    long = scrub_diagnostic("x " * 2000, address)
    assert long is not None and len(long) == DIAGNOSTIC_CHARS
