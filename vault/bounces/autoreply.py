"""RFC 3834 automatic responses (vacation notices, out-of-office replies): the sender is fine.

The responder's own address is reported with reason ``vacation`` so callers can ignore it.
"""

from __future__ import annotations

import re
from email.message import Message

from vault.bounces.findings import Finding
from vault.bounces.mime import header, header_addresses, normalize_recipient
from vault.bounces.model import Reason

_AUTO_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Reply",
    "X-Vacation",
    "X-Mailer-Autoreply",
    "X-Apple-Unsubscribe",
)
_AUTO_SUBJECT = re.compile(
    r"auto(?:matic)?[- ]?(?:reply|response|antwort|risposta|respuesta)|^auto:|"
    r"out of (?:the )?office|"
    r"vacation|away (?:from|until)|on leave|abwesen|absence|r[ée]ponse automatique|"
    r"不在|自動返信|自动回复|ooo\b",
    re.IGNORECASE,
)
_AUTO_BODY = re.compile(
    r"(?:i am|i'm|i will be|we are) (?:currently )?(?:out of (?:the )?office|away|on (?:vacation|"
    r"holiday|leave)|travel+ing)|returning to the office|out of (?:the )?office|"
    r"limited access to (?:e-?mail|my mail)|automatic reply|auto-?reply|"
    r"bin (?:ich )?(?:nicht im büro|abwesend)|unsubscribe",
    re.IGNORECASE,
)


def is_autoreply(msg: Message, text: str) -> bool:
    """Whether ``msg`` is an automatic response rather than a delivery report."""
    auto_submitted = header(msg, "Auto-Submitted").lower()
    precedence = header(msg, "Precedence").lower()
    subject = header(msg, "Subject")
    if any(msg.get(name) for name in _AUTO_HEADERS):
        return True
    # RFC 3834's own marker: callers reach this only for messages that are not bounces.
    if auto_submitted.startswith("auto-replied") or header(msg, "X-Apple-Action").lower() == (
        "vacation"
    ):
        return True
    if precedence == "auto_reply":
        return bool(_AUTO_SUBJECT.search(subject) or _AUTO_BODY.search(text))
    if msg.get("X-Auto-Response-Suppress") or precedence in {"bulk", "junk", "list"}:
        return bool(_AUTO_SUBJECT.search(subject) or _AUTO_BODY.search(text))
    return bool(_AUTO_SUBJECT.search(subject) and _AUTO_BODY.search(text))


def parse_autoreply(msg: Message) -> list[Finding]:
    """The responder (``From``, else ``Reply-To``) as an ignorable finding."""
    for raw in header_addresses(msg, "From", "Reply-To", "Sender"):
        norm = normalize_recipient(raw)
        if norm:
            return [Finding(recipient=norm, reason=Reason.VACATION)]
    return []
