"""Amazon SES notifications (bounce, complaint, delivery) delivered as JSON by SNS or e-mail.

Only the documented fields are read; anything else in the JSON is ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from vault.bounces.findings import Finding
from vault.bounces.mime import normalize_recipient
from vault.bounces.model import Reason

# SNS-to-email folds long JSON lines with a "!" before the break; undo that before decoding.
_FOLD = re.compile(r"!\r?\n ")


def _decode(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(_FOLD.sub("", text[start:]))
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    # An SNS envelope carries the SES notification as a JSON string in "Message".
    inner = value.get("Message")
    if isinstance(inner, str) and "notificationType" not in value:
        return _decode(inner)
    return value


def _records(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_ses(text: str) -> list[Finding] | None:
    """Findings from an SES notification in ``text``, or ``None`` if ``text`` holds none."""
    note = _decode(text)
    if note is None:
        return None
    kind = str(note.get("notificationType") or note.get("eventType") or "")
    findings: list[Finding] = []
    if kind == "Bounce" and isinstance(note.get("bounce"), dict):
        bounce = note["bounce"]
        for item in _records(bounce.get("bouncedRecipients")):
            addr = normalize_recipient(str(item.get("emailAddress", "")))
            if addr is None:
                continue
            diagnostic = str(item.get("diagnosticCode") or "")
            dtype, _, rest = diagnostic.partition(";")
            findings.append(
                Finding(
                    recipient=addr,
                    status=str(item.get("status") or "") or None,
                    diagnostic=(rest if _ else diagnostic).strip() or None,
                    diagnostic_type=dtype.strip().lower() if _ else None,
                    action=str(item.get("action") or "") or None,
                    remote_mta=str(bounce.get("reportingMTA") or "") or None,
                )
            )
    elif kind == "Complaint" and isinstance(note.get("complaint"), dict):
        complaint = note["complaint"]
        for item in _records(complaint.get("complainedRecipients")):
            addr = normalize_recipient(str(item.get("emailAddress", "")))
            if addr is not None:
                findings.append(
                    Finding(
                        recipient=addr,
                        reason=Reason.COMPLAINT,
                        feedback_type=str(complaint.get("complaintFeedbackType") or "abuse"),
                    )
                )
    elif kind == "Delivery" and isinstance(note.get("delivery"), dict):
        delivery = note["delivery"]
        for raw in delivery.get("recipients") or []:
            addr = normalize_recipient(str(raw))
            if addr is not None:
                findings.append(
                    Finding(
                        recipient=addr,
                        status="2.0.0",
                        diagnostic=str(delivery.get("smtpResponse") or "") or None,
                        reason=Reason.DELIVERED,
                    )
                )
    else:
        return None
    return findings
