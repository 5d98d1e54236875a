"""The entry point: one raw message in, the recipients it reports on (with reasons) out.

Formats are tried from the most to the least structured: SES JSON, ARF, RFC 3464, plain text.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from email.message import Message

from vault.bounces.arf import is_arf, parse_arf
from vault.bounces.autoreply import is_autoreply, parse_autoreply
from vault.bounces.dsn import findings_from_fields, parse_dsn
from vault.bounces.findings import Finding, find_command, names_recipient, to_recipient
from vault.bounces.lhosts import with_lhost_reasons
from vault.bounces.mime import (
    find_parts,
    header,
    header_addresses,
    load,
    normalize_recipient,
    part_text,
    walk_outer,
)
from vault.bounces.model import BouncedRecipient, Kind, ParsedMessage
from vault.bounces.ses import parse_ses
from vault.bounces.sources import iter_messages
from vault.bounces.textual import (
    looks_like_bounce,
    parse_text,
    recipient_blocks,
    report_text,
    returned_headers,
    sender_addresses,
)

#: Larger inputs are not reports (a bounce quotes at most the original message); refusing them
#: keeps a hostile mailbox from costing unbounded time.
MAX_MESSAGE_BYTES = 20 * 1024 * 1024


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one message; anything that is not a readable report gives ``kind=none``.

    Never raises for any ``bytes`` input: a report that cannot be read is not a report.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("parse_message takes the raw bytes of one message")
    data = bytes(raw)
    if not data.strip() or len(data) > MAX_MESSAGE_BYTES:
        return ParsedMessage.empty()
    try:
        if data.startswith(b"From "):
            return _parse_mbox(data)
        return _parse(data)
    except RecursionError:
        return ParsedMessage.empty()
    except (ValueError, LookupError, UnicodeError, TypeError, AttributeError, IndexError, KeyError):
        # The stdlib email package raises these on some malformed input; such input is not a
        # report we can act on, and callers must be able to feed whole mailboxes without guards.
        return ParsedMessage.empty()


def _parse_mbox(data: bytes) -> ParsedMessage:
    """An mbox given as one message (several reports about one mailing, say): each report is
    parsed on its own and their recipients are merged, the first report's kind leading."""
    results = [_parse(one) for one in iter_messages(io.BytesIO(data))]
    found = [r for r in results if r.kind is not Kind.NONE]
    if not found:
        return ParsedMessage.empty()
    recipients: dict[str, BouncedRecipient] = {}
    for result in found:
        for recipient in result.recipients:
            recipients.setdefault(recipient.recipient, recipient)
    return ParsedMessage(kind=found[0].kind, recipients=tuple(recipients.values()))


def _parse(data: bytes) -> ParsedMessage:
    msg = load(data)
    if msg is None:
        return ParsedMessage.empty()
    text = report_text(msg)

    if "notificationType" in text or "amazonses" in header(msg, "From").lower():
        ses = parse_ses(text)
        if ses is not None:
            kind = Kind.ARF if ses and all(f.feedback_type for f in ses) else Kind.DSN
            return _result(kind, ses)
    if is_arf(msg):
        return _result(Kind.ARF, parse_arf(msg))
    findings = parse_dsn(msg)
    if not findings and "final-recipient:" in text.lower():
        findings = findings_from_fields(text)
    if not findings:
        # A gateway that forwards the remote MTA's DSN as an attachment, saying little itself,
        # or pastes it, mbox "From " line and all, into its own plain-text report.
        inner_messages = _attached_messages(msg) or _pasted_messages(msg)
        findings = [f for inner in inner_messages for f in parse_dsn(inner)]
    if findings:
        return _result(Kind.DSN, with_lhost_reasons(msg, text, _with_text(msg, text, findings)))
    is_report = bool(find_parts(msg, "message/delivery-status"))
    if is_report or looks_like_bounce(msg, text):
        found = parse_text(msg, text)
        if not found:
            found = _addressee_of_original(msg, text)
        if msg.get("X-YMailISG"):
            # Yahoo! Mail reports only refusals of RCPT TO with the recipient quoted in them.
            found = [
                replace(f, command=f.command or "RCPT")
                if names_recipient(f.diagnostic or "", f.recipient)
                else f
                for f in found
            ]
        return _result(Kind.DSN, with_lhost_reasons(msg, text, found))
    if is_autoreply(msg, text):
        return _result(Kind.AUTOREPLY, parse_autoreply(msg))
    return ParsedMessage.empty()


def _addressee_of_original(msg: Message, text: str) -> list[Finding]:
    """A report that names no recipient at all ("--- Delivery report unavailable ---", a bare
    transcript of the last attempt) is about the returned original's only addressee."""
    original = returned_headers(msg)
    if original is None:
        return []
    exclude = sender_addresses(msg)
    addressees = {
        norm for raw in header_addresses(original, "To") if (norm := normalize_recipient(raw))
    }
    if len(addressees) != 1 or addressees & exclude:
        return []
    diagnostic = " ".join(text.split()) or None
    return [Finding(recipient=addressees.pop(), diagnostic=diagnostic)]


def _attached_messages(msg: Message) -> list[Message]:
    attached: list[Message] = []
    for part in find_parts(msg, "message/rfc822"):
        payload = part.get_payload()
        if isinstance(payload, list):
            attached.extend(sub for sub in payload if isinstance(sub, Message))
    return attached


_DSN_FIELDS = re.compile(
    r"\b(?:reporting-mta|received-from-mta|arrival-date|original-envelope-id|final-recipient"
    r"|original-recipient):",
    re.IGNORECASE,
)


# An mbox separator ("From MAILER-DAEMON  Thu Apr 29 23:34:45 2015") opening a pasted message.
_MBOX_FROM = re.compile(r"^From [^\s@]+(?:@[^\s]+)? +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) .*$", re.M)


def _pasted_messages(msg: Message) -> list[Message]:
    pasted: list[Message] = []
    for part in walk_outer(msg):
        if part.get_content_type() != "text/plain":
            continue
        text = part_text(part)
        match = _MBOX_FROM.search(text)
        if match is None:
            continue
        inner = load(text[match.end() :].lstrip("\n").encode("utf-8", errors="replace"))
        if inner is not None:
            pasted.append(inner)
    return pasted


def _with_text(msg: Message, text: str, findings: list[Finding]) -> list[Finding]:
    """Let the human-readable part fill what the DSN fields left out (diagnostic, command)."""
    blocks = recipient_blocks(text, exclude=sender_addresses(msg))
    enriched = []
    for finding in findings:
        block = blocks.get(finding.recipient, "")
        fields = _DSN_FIELDS.search(block)
        if fields:
            # The delivery-status fields themselves, in a part the MIME parser did not split
            # off: they were read as fields already and hold no words of the remote server.
            block = block[: fields.start()].strip()
        enriched.append(
            replace(
                finding,
                diagnostic=finding.diagnostic or block or None,
                command=finding.command
                or find_command(block)
                or find_command(finding.diagnostic or ""),
            )
        )
    return enriched


def _result(kind: Kind, findings: list[Finding]) -> ParsedMessage:
    recipients = []
    seen: set[str] = set()
    for finding in findings:
        if finding.recipient in seen:
            continue
        seen.add(finding.recipient)
        recipients.append(to_recipient(finding))
    return ParsedMessage(kind=kind, recipients=tuple(recipients))
