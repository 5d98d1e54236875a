"""From raw input to ``Report``s, the one shape the decision path takes: a parsed bounce or
complaint message, or a JSON delivery event. Pure; nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vault.addresses import Address, parse_address
from vault.bounces import (
    Action,
    BouncedRecipient,
    Group,
    Kind,
    ParsedMessage,
    Reason,
    base_action,
    classify,
    group_of,
    parse_message,
)
from vault.deliveries.events import DeliveryEvent, EventType
from vault.deliveries.models import OutcomeSource
from vault.errors import InputError, InvalidAddress

#: Larger inputs are not reports (a bounce quotes at most the original message).
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
#: How far in the future an event's ``occurred_at`` may be (clock skew between machines).
FUTURE_SKEW = timedelta(minutes=5)
# RFC 5322 field name, then a colon: what the first line of a mail message must look like.
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
# A Message-ID field of the top-level header, its value possibly folded onto the next line.
_MESSAGE_ID = re.compile(
    rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE
)
#: The top-level header is looked for in this much of a message.
_HEADER_SCAN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Report:
    """One recipient's outcome, ready for the action table. ``diagnostic`` is still raw here:
    the service redacts it before it is stored."""

    address: Address
    reason: Reason
    group: Group
    action: Action
    status: str | None
    diagnostic: str | None
    source: OutcomeSource
    occurred_at: datetime
    list_id: uuid.UUID | None = None
    # What makes this report the same one when it arrives again: for a message, its identity
    # (``message_identity``), the recipient's position in it and the status; for an event, its
    # type, status, event_id and recipient. Held in memory only: the service stores a keyed
    # digest of it.
    identity: bytes | None = None

    @property
    def delivered(self) -> bool:
        return self.reason is Reason.DELIVERED

    def __repr__(self) -> str:
        return (
            f"Report(domain={self.address.domain!r}, reason={self.reason.value!r}, "
            f"action={self.action.value!r}, source={self.source.value!r})"
        )


@dataclass(frozen=True, slots=True)
class MessageReports:
    """What one raw message gave: its reports, or why it gave none."""

    kind: Kind
    reports: tuple[Report, ...] = ()
    unreadable: str | None = None  # why the message could not be read at all
    unusable: tuple[str, ...] = field(default=())  # recipients whose address does not parse


@dataclass(frozen=True, slots=True)
class ParsedRaw:
    """What one raw message says before any clock or store: what the parser found in it, or
    why it cannot be read at all. Pure data, so a worker process can hand it back."""

    message: ParsedMessage
    unreadable: str | None = None
    identity: bytes | None = None  # see ``message_identity``


def parse_raw(raw: bytes) -> ParsedRaw:
    """Parse one raw message. Never raises for any input."""
    problem = why_unreadable(raw)
    if problem is not None:
        return ParsedRaw(ParsedMessage.empty(), unreadable=problem)
    try:
        return ParsedRaw(parse_message(raw), identity=message_identity(raw))
    except Exception:  # a parser bug must not stop a mailbox run; the message is reported
        return ParsedRaw(ParsedMessage.empty(), unreadable="the parser failed on it")


def read_message(raw: bytes, *, now: datetime) -> MessageReports:
    """Parse one raw message into reports. Never raises for any input."""
    return reports_of(parse_raw(raw), now=now)


def reports_of(parsed: ParsedRaw, *, now: datetime) -> MessageReports:
    """The reports of a parsed message, as of ``now``."""
    if parsed.unreadable is not None:
        return MessageReports(Kind.NONE, unreadable=parsed.unreadable)
    return reports_from_parsed(parsed.message, now=now, identity=parsed.identity)


def message_identity(raw: bytes) -> bytes:
    """What identifies a bounce or complaint message when it is ingested again: its own
    Message-ID (the reporting MTA's, unique per report and kept by every copy), else a hash of
    its bytes."""
    head = bytes(raw[:_HEADER_SCAN_BYTES])
    end = min((i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n")) if i >= 0), default=-1)
    found = _MESSAGE_ID.search(head if end < 0 else head[:end])
    if found is not None:
        return b"message-id:" + found.group(1)
    return b"sha256:" + hashlib.sha256(raw).digest()


def reports_from_parsed(
    parsed: ParsedMessage, *, now: datetime, identity: bytes | None = None
) -> MessageReports:
    source = OutcomeSource.ARF if parsed.kind is Kind.ARF else OutcomeSource.DSN
    reports: list[Report] = []
    unusable: list[str] = []
    for position, recipient in enumerate(parsed.recipients):
        try:
            address = parse_address(recipient.recipient)
        except InvalidAddress as exc:
            unusable.append(str(exc))
            continue
        recipient_identity = None
        if identity:
            # The position, not the address: the stored digest then says nothing about who,
            # and an MTA that reuses a Message-ID for its "delayed" and then its "failed"
            # notice still gives two reports (the status differs).
            status = (recipient.status or "").encode()
            recipient_identity = b"%b\x00%d\x00%b" % (identity, position, status)
        reports.append(
            _from_recipient(recipient, address, source=source, now=now, identity=recipient_identity)
        )
    return MessageReports(parsed.kind, tuple(reports), unusable=tuple(unusable))


def _from_recipient(
    recipient: BouncedRecipient,
    address: Address,
    *,
    source: OutcomeSource,
    now: datetime,
    identity: bytes | None,
) -> Report:
    return Report(
        address=address,
        reason=recipient.reason,
        group=recipient.group,
        action=base_action(recipient.reason, address.domain),
        status=recipient.status,
        diagnostic=recipient.diagnostic,
        source=source,
        occurred_at=now,
        identity=identity,
    )


def why_unreadable(raw: bytes) -> str | None:
    """Why ``raw`` cannot be a mail message at all (empty, huge, no header), else None."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        return "not bytes"
    if len(raw) > MAX_MESSAGE_BYTES:
        return f"larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB"
    stripped = bytes(raw[:4096]).lstrip()
    if not stripped:
        return "empty"
    if stripped.startswith(b"From "):  # an mbox separator left on a single message
        stripped = stripped.partition(b"\n")[2].lstrip()
    if not _HEADER_LINE.match(stripped):
        return "no mail header at the start"
    return None


def report_from_event(event: DeliveryEvent, *, now: datetime) -> Report:
    """The report a JSON delivery event stands for, classified like a parsed DSN."""
    occurred_at = event.occurred_at or now
    if occurred_at > now + FUTURE_SKEW:
        raise InputError("occurred_at is in the future")
    domain = event.recipient.domain
    if event.type is EventType.COMPLAINT:
        reason = Reason.COMPLAINT
    elif event.type is EventType.DELIVERED:
        reason = Reason.DELIVERED
    else:
        dsn_action = "failed" if event.type is EventType.BOUNCE else "delayed"
        reason = classify(status=event.status, diagnostic=event.diagnostic, action=dsn_action)
        if reason is Reason.DELIVERED:  # only a 2.x.x status says so, refused by the parser
            raise InputError(f"a {event.type} event cannot report a successful delivery")
    action = base_action(reason, domain)
    if event.type is EventType.DEFERRED and action in (Action.SUPPRESS, Action.CONFIRM):
        # A deferral is a retry in progress: whatever its words, it never proves the address
        # bad, so at worst it counts like any temporary failure.
        action = Action.COUNT
    return Report(
        address=event.recipient,
        reason=reason,
        group=group_of(reason),
        action=action,
        status=event.status,
        diagnostic=event.diagnostic,
        source=OutcomeSource.EVENT,
        occurred_at=occurred_at,
        identity=_event_identity(event),
    )


def _event_identity(event: DeliveryEvent) -> bytes | None:
    """An event's id is the sender's, and senders often reuse one id for every event about one
    sent message (its deferral, its bounce, its complaint; each of its recipients): the type,
    status and recipient are part of the identity."""
    if not event.event_id:
        return None
    parts = (
        "event",
        event.event_id,
        event.type.value,
        event.status or "",
        event.recipient.canonical,
    )
    return "\x00".join(parts).encode()
