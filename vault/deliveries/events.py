"""The JSON delivery event (``POST /v1/events``), validated by a pure function.

    {"type": "bounce" | "complaint" | "delivered" | "deferred",
     "recipient": "someone@example.com",
     "status": "5.1.1",                       optional, RFC 3463
     "diagnostic": "550 5.1.1 user unknown",  optional, the remote server's words
     "occurred_at": "2026-03-01T09:30:00Z",   optional, ISO 8601 with a time zone
     "list": "news"}                          optional, a list name or id

Errors name the field and the problem, never the recipient's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vault.addresses import Address, parse_address
from vault.errors import InputError, InvalidAddress

MAX_EVENT_BYTES = 64 * 1024
MAX_DIAGNOSTIC_CHARS = 8192
_FIELDS = frozenset(
    {"type", "recipient", "status", "diagnostic", "occurred_at", "list", "event_id"}
)
MAX_EVENT_ID_CHARS = 200
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


class EventType(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    DEFERRED = "deferred"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    type: EventType
    recipient: Address
    status: str | None = None
    diagnostic: str | None = None
    occurred_at: datetime | None = None
    list: str | None = None
    # The sender's own id for the event (a Message-ID serves): a retried event with the same id
    # and recipient is recorded once. It is never stored or shown, only digested with the key.
    event_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"DeliveryEvent(type={self.type.value!r}, domain={self.recipient.domain!r}, "
            f"status={self.status!r})"
        )


def parse_event_json(body: bytes) -> DeliveryEvent:
    """A delivery event from a request body (UTF-8 JSON object)."""
    if len(body) > MAX_EVENT_BYTES:
        raise InputError(f"a delivery event is at most {MAX_EVENT_BYTES} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InputError("a delivery event must be a UTF-8 JSON object") from None
    return parse_event(data)


def parse_event(data: object) -> DeliveryEvent:
    """A delivery event from decoded JSON; ``InputError`` names the first problem."""
    if not isinstance(data, Mapping):
        raise InputError("a delivery event must be a JSON object")
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        # Not named: a key the caller invented may be an address (or a local part).
        raise InputError(
            f"{len(unknown)} unknown field(s) in the delivery event; the fields are "
            + ", ".join(sorted(_FIELDS))
        )
    try:
        kind = EventType(_text(data, "type", required=True) or "")
    except ValueError:
        raise InputError(
            "type must be one of: " + ", ".join(sorted(t.value for t in EventType))
        ) from None
    raw_recipient = _text(data, "recipient", required=True)
    assert raw_recipient is not None
    try:
        recipient = parse_address(raw_recipient)
    except InvalidAddress as exc:
        raise InputError(f"recipient: {exc}") from None
    status = _text(data, "status")
    if status is not None:
        status = status.strip()
        if not _STATUS.fullmatch(status):
            raise InputError("status must be an RFC 3463 code such as 5.1.1")
        if status.startswith("2.") and kind is not EventType.DELIVERED:
            raise InputError(f"a {kind} event cannot have a 2.x.x (success) status")
    diagnostic = _text(data, "diagnostic")
    if diagnostic is not None and len(diagnostic) > MAX_DIAGNOSTIC_CHARS:
        diagnostic = diagnostic[:MAX_DIAGNOSTIC_CHARS]
    occurred_text = _text(data, "occurred_at")
    occurred_at = None
    if occurred_text is not None:
        try:
            occurred_at = datetime.fromisoformat(occurred_text.strip())
        except ValueError:
            raise InputError("occurred_at must be an ISO 8601 date and time") from None
        if occurred_at.tzinfo is None:
            raise InputError("occurred_at needs a time zone (Z or +hh:mm)")
    event_id = _text(data, "event_id")
    if event_id is not None:
        event_id = event_id.strip()
        if not 1 <= len(event_id) <= MAX_EVENT_ID_CHARS:
            raise InputError(f"event_id must have 1 to {MAX_EVENT_ID_CHARS} characters")
    list_name = _text(data, "list")
    if list_name is not None and "@" in list_name:
        # List names never hold '@' (the API refuses them); an unknown list's 404 names it.
        raise InputError("list must be a list name or id, not an address")
    return DeliveryEvent(
        type=kind,
        recipient=recipient,
        status=status,
        diagnostic=diagnostic,
        occurred_at=occurred_at,
        list=list_name.strip() if list_name else None,
        event_id=event_id,
    )


def _text(data: Mapping[object, object], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InputError(f"the delivery event needs {name}")
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string")
    return value
