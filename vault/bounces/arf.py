"""RFC 5965 abuse reports (ARF) and the provider complaint formats shaped like them.

Every recipient a report names is a complaint; Hotmail's JMRP reports carry no feedback part,
only the original message with the complainer in ``X-HmXmrOriginalRecipient``.
"""

from __future__ import annotations

from email import message_from_string
from email.message import Message
from email.policy import compat32

from vault.bounces.findings import Finding
from vault.bounces.mime import (
    addresses_in,
    find_parts,
    header_addresses,
    normalize_recipient,
    original_message,
    raw_body,
)
from vault.bounces.model import Reason

_REPORT_RECIPIENT_FIELDS = ("Original-Rcpt-To", "Removal-Recipient")
_ORIGINAL_RECIPIENT_HEADERS = ("X-HmXmrOriginalRecipient", "Original-Rcpt-To")


def is_arf(msg: Message) -> bool:
    """A feedback report by content type, or a JMRP-style forward of the complained message."""
    if find_parts(msg, "message/feedback-report"):
        return True
    original = original_message(msg)
    return original is not None and bool(original.get("X-HmXmrOriginalRecipient"))


def parse_arf(msg: Message) -> list[Finding]:
    """One complaint finding per recipient the report names (possibly none)."""
    feedback_type = None
    recipients: list[str] = []
    for part in find_parts(msg, "message/feedback-report"):
        fields = message_from_string(raw_body(part).lstrip(), policy=compat32)
        feedback_type = feedback_type or (
            str(fields.get("Feedback-Type", "")).strip().lower() or None
        )
        for name in _REPORT_RECIPIENT_FIELDS:
            for value in fields.get_all(name) or []:
                recipients.extend(addresses_in(str(value)))
    original = original_message(msg)
    if not recipients and original is not None:
        recipients = header_addresses(original, *_ORIGINAL_RECIPIENT_HEADERS) or header_addresses(
            original, "To"
        )
    normalized = [norm for raw in recipients if (norm := normalize_recipient(raw))]
    return [
        Finding(recipient=addr, reason=Reason.COMPLAINT, feedback_type=feedback_type or "abuse")
        for addr in dict.fromkeys(normalized)
    ]
