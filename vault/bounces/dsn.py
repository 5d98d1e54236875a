"""RFC 3464 delivery status notifications: the per-recipient fields of message/delivery-status.

Field blocks are read from the raw text, so that a DSN the stdlib mis-splits is still read.
"""

from __future__ import annotations

import re
from email.message import Message

from vault.bounces.findings import Finding
from vault.bounces.mime import find_parts, normalize_recipient, raw_body
from vault.bounces.model import Reason
from vault.bounces.status import normalize_status

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*)[ \t]*:[ \t]*(.*)$")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
# PowerMTA files every bounce under a category of its own (per recipient); the category says
# more than the remote server's words, which it has already weighed.
_POWERMTA_CATEGORIES = {
    "bad-domain": Reason.HOST_UNKNOWN,
    "bad-mailbox": Reason.USER_UNKNOWN,
    "inactive-mailbox": Reason.SUSPENDED,
    "message-expired": Reason.EXPIRED,
    "no-answer-from-host": Reason.NETWORK_ERROR,
    "policy-related": Reason.POLICY_VIOLATION,
    "quota-issues": Reason.MAILBOX_FULL,
    "routing-errors": Reason.SYSTEM_ERROR,
    "spam-related": Reason.SPAM_DETECTED,
}


def field_blocks(text: str) -> list[dict[str, str]]:
    """Blocks of ``Name: value`` fields separated by blank lines; a new ``Final-Recipient``
    also opens a new block, since some MTAs omit the blank line between recipients."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
            continue
        if line[0] in " \t" and last is not None:
            current[last] = f"{current[last]} {line.strip()}"
            continue
        match = _FIELD.match(line)
        if not match:
            last = None
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name == "final-recipient" and name in current:
            blocks.append(current)
            current = {}
        if name not in current:  # the first occurrence wins, as in a header block
            current[name] = value
        last = name if name in current and current[name] == value else None
    if current:
        blocks.append(current)
    return blocks


def _typed(value: str) -> tuple[str | None, str]:
    """Split ``type; text`` (as in ``Diagnostic-Code: smtp; 550 ...``)."""
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"[A-Za-z0-9\-]{1,20}", kind.strip()):
        return kind.strip().lower(), rest.strip()
    return None, value.strip()


# "@relay.example:user@host": an RFC 821 source route, the MTA's internal routing rather than
# the address the sender used.
_SOURCE_ROUTE = re.compile(r"^<?@[^:,\s]+(?:,@[^:,\s]+)*:")


def recipient_of(block: dict[str, str]) -> str | None:
    """The recipient a field block is about: Final-Recipient, else Original-Recipient.

    A Final-Recipient given as a source route names an internal hop ("@smtp.example:u@server"),
    so the Original-Recipient, when there is one, is the address the report is about.
    """
    names = _RECIPIENT_FIELDS
    final = _typed(block.get("final-recipient", ""))[1]
    if _SOURCE_ROUTE.match(final) and "original-recipient" in block:
        names = ("original-recipient", "final-recipient", "x-actual-recipient")
    for name in names:
        if name in block:
            norm = normalize_recipient(_typed(block[name])[1])
            if norm:
                return norm
    return None


def findings_from_fields(text: str) -> list[Finding]:
    """One finding per recipient block in DSN field text."""
    blocks = field_blocks(text)
    per_message = next((b for b in blocks if not any(f in b for f in _RECIPIENT_FIELDS)), {})
    findings = []
    for block in blocks:
        recipient = recipient_of(block)
        if recipient is None:
            continue
        dtype, diagnostic = _typed(block.get("diagnostic-code", ""))
        if any(_typed(block.get(n, ""))[1].startswith("|") for n in _RECIPIENT_FIELDS):
            # Delivered to a pipe ("|procmail ..."): the local program failed, not the mailbox.
            dtype = "x-unix"
        remote = _typed(block.get("remote-mta", ""))[1] or None
        findings.append(
            Finding(
                recipient=recipient,
                status=normalize_status(block.get("status")),
                diagnostic=diagnostic or None,
                action=(block.get("action") or "").split()[0].lower()
                if block.get("action")
                else None,
                diagnostic_type=dtype,
                remote_mta=remote or _typed(per_message.get("reporting-mta", ""))[1] or None,
                reason=_POWERMTA_CATEGORIES.get(
                    block.get("x-powermta-bouncecategory", "").strip().lower()
                ),
            )
        )
    return findings


def parse_dsn(msg: Message) -> list[Finding]:
    """Findings from every message/delivery-status part of ``msg``."""
    findings: list[Finding] = []
    for part in find_parts(msg, "message/delivery-status"):
        findings.extend(findings_from_fields(raw_body(part)))
    return findings
