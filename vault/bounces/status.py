"""RFC 3463 enhanced status codes: finding them in text and what each one says about a bounce.

The table gives the reason a code points to on its own; ``classify`` weighs it against the text.
"""

from __future__ import annotations

import re

from vault.bounces.model import Reason

# A code must not be part of a dotted quad or a version number, so no digit or dot may touch it.
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)")
# "550", "550-", "550 5.1.1": a three-digit reply code opening a line or following a separator.
_REPLY = re.compile(r"(?:^|[\s:;(\[\"'])([245][0-7]\d)(?=[\s\-.,:;)\]]|$)")

R = Reason
#: Codes that name a reason on their own, after RFC 3463/5248/7372/7505 and Sisimai's reading of
#: them. Codes missing here (x.0.0, 4.3.0, 4.4.0, 4.7.0, 4.5.0...) say only that something
#: failed, so the diagnostic text decides.
_BY_CODE: dict[str, Reason] = {
    "4.1.6": R.HAS_MOVED,
    "4.1.7": R.REJECTED,
    "4.1.8": R.REJECTED,
    "4.1.9": R.SYSTEM_ERROR,
    "4.2.1": R.SUSPENDED,
    "4.2.2": R.MAILBOX_FULL,
    "4.2.3": R.EXCEED_LIMIT,
    "4.2.4": R.FILTERED,
    "4.3.1": R.SYSTEM_FULL,
    "4.3.2": R.NOT_ACCEPT,
    "4.3.3": R.SYSTEM_ERROR,
    "4.3.5": R.SYSTEM_ERROR,
    # No answer from the host: the words say whether the queue ran out while connections timed
    # out (expired) or the network itself failed (no route, DNS); classify weighs them.
    "4.4.1": R.NETWORK_ERROR,
    "4.4.2": R.NETWORK_ERROR,
    "4.4.3": R.SYSTEM_ERROR,
    "4.4.4": R.NETWORK_ERROR,
    "4.4.5": R.SYSTEM_FULL,
    "4.4.6": R.NETWORK_ERROR,
    "4.4.7": R.EXPIRED,
    "4.4.8": R.NETWORK_ERROR,
    "4.5.3": R.SYSTEM_ERROR,
    "4.5.5": R.SYSTEM_ERROR,
    "4.6.0": R.CONTENT_ERROR,
    "4.6.2": R.CONTENT_ERROR,
    "4.6.5": R.CONTENT_ERROR,
    "4.7.1": R.BLOCKED,
    "4.7.2": R.BLOCKED,
    "4.7.5": R.SECURITY_ERROR,
    "4.7.6": R.SECURITY_ERROR,
    "4.7.7": R.SECURITY_ERROR,
    "4.7.12": R.SECURITY_ERROR,
    "4.7.15": R.SECURITY_ERROR,
    "4.7.16": R.MESSAGE_TOO_BIG,
    "4.7.24": R.SECURITY_ERROR,
    "4.7.25": R.BLOCKED,
    "4.7.26": R.SECURITY_ERROR,
    "5.1.0": R.USER_UNKNOWN,
    "5.1.1": R.USER_UNKNOWN,
    "5.1.2": R.HOST_UNKNOWN,
    "5.1.3": R.BAD_ADDRESS,
    "5.1.4": R.FILTERED,
    "5.1.6": R.HAS_MOVED,
    "5.1.7": R.REJECTED,
    "5.1.8": R.REJECTED,
    "5.1.9": R.SYSTEM_ERROR,
    "5.1.10": R.NOT_ACCEPT,  # RFC 7505 null MX; Microsoft's "RecipientNotFound" text wins
    "5.2.0": R.FILTERED,
    "5.2.1": R.FILTERED,
    "5.2.2": R.MAILBOX_FULL,
    "5.2.3": R.EXCEED_LIMIT,
    "5.2.4": R.FILTERED,
    "5.3.0": R.SYSTEM_ERROR,
    "5.3.1": R.SYSTEM_FULL,
    "5.3.2": R.NOT_ACCEPT,
    "5.3.3": R.SYSTEM_ERROR,
    "5.3.4": R.MESSAGE_TOO_BIG,
    "5.3.5": R.SYSTEM_ERROR,
    "5.4.0": R.NETWORK_ERROR,
    "5.4.3": R.SYSTEM_ERROR,
    "5.4.4": R.HOST_UNKNOWN,
    "5.5.2": R.SYNTAX_ERROR,
    "5.5.3": R.RATE_LIMITED,  # too many recipients
    "5.5.4": R.SYSTEM_ERROR,
    "5.5.5": R.SYSTEM_ERROR,
    "5.5.6": R.SYNTAX_ERROR,
    "5.7.13": R.SUSPENDED,  # user account disabled
    "5.7.16": R.MESSAGE_TOO_BIG,
    "5.7.17": R.HAS_MOVED,  # mailbox owner has changed
    "5.7.18": R.HAS_MOVED,  # domain owner has changed
    "5.7.25": R.BLOCKED,  # reverse DNS of our IP failed
    "5.7.27": R.NOT_ACCEPT,  # null MX (RFC 7505)
}


def find_status(text: str) -> str | None:
    """The first enhanced status code quoted in ``text`` (for example ``"5.1.1"``), if any.

    ``x.0.0`` is skipped while a more specific code follows, because MTAs often wrap the
    remote server's precise code in a generic one of their own; success codes (``2.x.x``) are
    skipped while a failure code follows, since a transcript quotes the steps that went well.
    """
    generic = None
    success = None
    for match in _ENHANCED.finditer(text):
        code = ".".join(match.groups())
        if code.startswith("2."):
            # "250 2.1.5 Ok" in a transcript: a step that succeeded before the one that failed.
            success = success or code
            continue
        if code.endswith(".0.0"):
            generic = generic or code
            continue
        return code
    return generic or success


_AFTER_REPLY = re.compile(r"\b[245]\d\d[ -]['\"#]?([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)")


def find_remote_status(text: str) -> str | None:
    """The first specific code that follows a reply code ("550 5.7.1", "550-'5.7.1"): the remote
    server's own words, which an MTA may have prefixed with a code of its own; else
    ``find_status``."""
    for match in _AFTER_REPLY.finditer(text):
        code = ".".join(match.groups())
        if not code.endswith(".0.0") and not code.startswith("2."):
            return code
    return find_status(text)


def find_reply_code(text: str) -> str | None:
    """The first three-digit SMTP reply code in ``text``, if any."""
    match = _REPLY.search(text)
    return match.group(1) if match else None


def normalize_status(value: str | None) -> str | None:
    """The enhanced code in a DSN ``Status:`` value, or ``None`` when it holds none."""
    if not value:
        return None
    match = _ENHANCED.search(value)
    return ".".join(match.groups()) if match else None


def status_from_reply(reply: str | None) -> str | None:
    """A coarse enhanced code for a bare reply code: ``550`` -> ``5.0.0``, ``450`` -> ``4.0.0``."""
    if reply and reply[0] in "45":
        return f"{reply[0]}.0.0"
    return None


def reason_for_status(status: str | None) -> Reason | None:
    """The reason an enhanced status code points to on its own, or ``None`` if it is vague."""
    if not status:
        return None
    if status.startswith("2."):
        return Reason.DELIVERED
    if status in _BY_CODE:
        return _BY_CODE[status]
    if status.startswith(("5.6.", "4.6.")):
        return Reason.CONTENT_ERROR
    if status.startswith("5.7."):
        return Reason.SECURITY_ERROR
    return None
