"""Providers whose refusals carry a code of their own that says more than the SMTP reply.

Orange / La Poste (``OFR_506``, ``LPN007_416``) and GoDaddy (``IB607``) append a reference to
every refusal; their published tables (as Sisimai's ``Rhost`` classes read them) give the reason.
The references are distinctive enough to be recognised without knowing the remote host.
"""

from __future__ import annotations

import re

from vault.bounces.model import Reason

R = Reason

# "OFR_506", "ofr_506", "LPN007_416", "OFR004_201", "LPN105-104", "OUK_513": the last three
# digits are the reason code.
_FRANCE_PTT = re.compile(r"\b(?:LPN|OFR|OUK)(?:_\d{3}|\d{3}[-_]\d{3})\b", re.IGNORECASE)
_FRANCE_PTT_CODES: dict[str, Reason] = {
    "102": R.BLOCKED,  # source IP blocked for spamming
    "103": R.BLOCKED,  # service refused
    "104": R.RATE_LIMITED,  # too many connections
    "305": R.SECURITY_ERROR,  # invalid authentication code
    "401": R.BLOCKED,  # SPF: not allowed to send
    "402": R.SECURITY_ERROR,  # authentication required
    "403": R.REJECTED,  # invalid sender
    "405": R.REJECTED,
    "415": R.REJECTED,
    "416": R.USER_UNKNOWN,  # invalid recipient
    "417": R.MAILBOX_FULL,  # recipient over quota
    "418": R.USER_UNKNOWN,
    "420": R.SUSPENDED,  # archived recipient
    "421": R.REJECTED,  # mail from not owned by user
    "426": R.SUSPENDED,  # recipient account blocked
    "505": R.SYSTEM_ERROR,
    "506": R.SPAM_DETECTED,  # mail rejected
    "510": R.BLOCKED,
    "514": R.MESSAGE_TOO_BIG,
    "630": R.POLICY_VIOLATION,  # client host rejected by policy
    "999": R.BLOCKED,
}

# " IB607": GoDaddy's bounce reference (https://www.godaddy.com/help/3568).
_GODADDY = re.compile(r"(?<=\s)IB(\d{3})\b")
_GODADDY_CODES: dict[str, Reason] = {
    "007": R.RATE_LIMITED,  # too many sessions from this IP
    "101": R.RATE_LIMITED,  # server temporarily unavailable (volume)
    "103": R.BLOCKED,  # poor reputation
    "104": R.BLOCKED,  # listed on a block list
    "105": R.BLOCKED,
    "106": R.BLOCKED,
    "108": R.BLOCKED,  # reverse DNS failed
    "110": R.BLOCKED,  # blocked for sending spam
    "111": R.BLOCKED,
    "112": R.BLOCKED,  # blocked for mailing invalid recipients
    "113": R.BLOCKED,
    "212": R.SPAM_DETECTED,
    "401": R.SECURITY_ERROR,  # authentication not allowed inbound
    "501": R.REJECTED,  # blank From
    "502": R.REJECTED,  # IP address as From
    "506": R.REJECTED,  # From domain invalid
    "508": R.SECURITY_ERROR,  # SPF
    "504": R.RATE_LIMITED,  # too many messages this hour
    "510": R.RATE_LIMITED,
    "605": R.RATE_LIMITED,  # too many recipients
    "607": R.RATE_LIMITED,  # too many recipients this hour
    "705": R.VIRUS_DETECTED,
}


# KDDI (au, ezweb.ne.jp) answers "550 <a@b>: User unknown" for a mailbox that does not exist
# and "550 : User unknown", with the address left out, when the recipient's own domain or
# address filter refused the sender.
_KDDI_HOST = re.compile(r"(?:^|[\s;\[(])[a-z0-9.\-]*(?:\.ezweb\.ne\.jp|\bmsmx\.au\.com)\b", re.I)
_KDDI_FILTERED = re.compile(r"\b550 : user unknown", re.I)
_KDDI_UNKNOWN = re.compile(r">: user unknown", re.I)


def _kddi_reason(diagnostic: str, remote_mta: str | None) -> Reason | None:
    if not (_KDDI_HOST.search(remote_mta or "") or _KDDI_HOST.search(diagnostic)):
        return None
    if _KDDI_FILTERED.search(diagnostic):
        return R.FILTERED
    if _KDDI_UNKNOWN.search(diagnostic):
        return R.USER_UNKNOWN
    return None


# Exchange Online's enhanced codes with a three-digit detail (RFC 3463 leaves x.y.3xx-7xx
# unassigned, so only Microsoft uses them); Microsoft's published NDR table gives the meaning.
_MICROSOFT_CODES: tuple[tuple[re.Pattern[str], Reason], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"[45]\.4\.312", R.NETWORK_ERROR),  # DNS query failed
        (r"[45]\.4\.316", R.EXPIRED),  # message expired, connection refused
        (r"4\.7\.[56]\d\d", R.BLOCKED),
        (r"4\.7\.8[5-9]\d", R.BLOCKED),
        (r"5\.0\.350", R.CONTENT_ERROR),
        (r"5\.7\.50[1-3]", R.SPAM_DETECTED),  # spam sent from this account / IP
        (r"5\.7\.50[4-5]", R.FILTERED),  # recipient's own rule
        (r"5\.7\.50[6-7]", R.BLOCKED),
        (r"5\.7\.508", R.RATE_LIMITED),
        (r"5\.7\.509", R.SECURITY_ERROR),  # DMARC reject
        (r"5\.7\.510", R.NOT_ACCEPT),
        (r"5\.7\.511", R.REJECTED),
        (r"5\.7\.512", R.POLICY_VIOLATION),
        (r"5\.7\.60[6-9]", R.BLOCKED),
        (r"5\.7\.6[1-4]\d", R.BLOCKED),
        (r"5\.7\.7[0-4]\d", R.RATE_LIMITED),
    )
)


def status_reason(status: str | None) -> Reason | None:
    """The reason a provider-specific enhanced status code (Exchange Online's) stands for."""
    if not status:
        return None
    for pattern, reason in _MICROSOFT_CODES:
        if pattern.fullmatch(status):
            return reason
    return None


# Exchange's NDR subjects ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"): Microsoft's
# own identifier of the failure, after its published NDR list (as Sisimai's Exchange2007 reads it).
_EXCHANGE_NDR = re.compile(r"\b((?:RESOLVER|QUEUE|SMTPSEND)\.[A-Za-z]+(?:\.\w+)?);")
_EXCHANGE_NDR_CODES: dict[str, Reason] = {
    "SMTPSEND.DNS.NonExistentDomain": R.HOST_UNKNOWN,
    "SMTPSEND.DNS.MxLoopback": R.NETWORK_ERROR,
    "RESOLVER.ADR.BadPrimary": R.SYSTEM_ERROR,
    "RESOLVER.ADR.RecipNotFound": R.USER_UNKNOWN,
    "RESOLVER.ADR.ExRecipNotFound": R.USER_UNKNOWN,
    "RESOLVER.ADR.RecipLimit": R.RATE_LIMITED,
    "RESOLVER.ADR.InvalidInSmtp": R.SYSTEM_ERROR,
    "RESOLVER.ADR.Ambiguous": R.SYSTEM_ERROR,
    "RESOLVER.RST.AuthRequired": R.SECURITY_ERROR,
    "RESOLVER.RST.NotAuthorized": R.REJECTED,
    "RESOLVER.RST.RecipSizeLimit": R.MESSAGE_TOO_BIG,
    "QUEUE.Expired": R.EXPIRED,
}


# NTT docomo's MX answers "550 Unknown user" both for a missing mailbox (at RCPT TO) and for
# a sender its customer's filter refuses (after DATA); the status and command tell them apart.
_DOCOMO_HOST = re.compile(r"\bmfsmax\.docomo\.ne\.jp\b", re.I)
_DOCOMO_TEXT: tuple[tuple[re.Pattern[str], Reason], ...] = (
    (re.compile(r"552 too much mail data", re.I), R.MAILBOX_FULL),
    (re.compile(r"552 too many recipients", re.I), R.RATE_LIMITED),
    (
        re.compile(r"503 bad sequence of commands|504 command parameter not implemented", re.I),
        R.SYNTAX_ERROR,
    ),
)


def _docomo_reason(
    diagnostic: str, remote_mta: str | None, status: str | None, command: str | None
) -> Reason | None:
    if not (_DOCOMO_HOST.search(remote_mta or "") or _DOCOMO_HOST.search(diagnostic)):
        return None
    if status == "5.1.1":
        return R.USER_UNKNOWN
    if status == "5.2.0":
        return R.FILTERED
    for pattern, reason in _DOCOMO_TEXT:
        if pattern.search(diagnostic):
            return reason
    if status == "5.0.0" and command == "RCPT":
        return R.USER_UNKNOWN
    if status == "5.0.0" and command == "DATA":
        return R.REJECTED
    return None


# Mimecast refuses hosts its customer's policy does not allow ("554 Host network not allowed").
_MIMECAST_HOST = re.compile(r"\.mimecast\.com\b", re.I)
_MIMECAST_POLICY = re.compile(r"host network not allowed", re.I)


def provider_reason(
    diagnostic: str | None,
    remote_mta: str | None = None,
    *,
    status: str | None = None,
    command: str | None = None,
) -> Reason | None:
    """The reason a provider's own refusal reference gives, if the diagnostic carries one;
    ``remote_mta`` (the host that refused) selects rules for providers known by name, which
    may also weigh the ``status`` and the refused SMTP ``command``."""
    if not diagnostic:
        return None
    by_host = _kddi_reason(diagnostic, remote_mta) or _docomo_reason(
        diagnostic, remote_mta, status, command
    )
    if by_host is not None:
        return by_host
    if _MIMECAST_HOST.search(remote_mta or "") and _MIMECAST_POLICY.search(diagnostic):
        return R.POLICY_VIOLATION
    match = _FRANCE_PTT.search(diagnostic)
    if match:
        # A code missing from the table is one Orange/La Poste use for "try again later".
        return _FRANCE_PTT_CODES.get(match.group(0)[-3:], Reason.UNDEFINED)
    match = _GODADDY.search(diagnostic)
    if match:
        return _GODADDY_CODES.get(match.group(1))
    match = _EXCHANGE_NDR.search(diagnostic)
    if match:
        return _EXCHANGE_NDR_CODES.get(match.group(1))
    return None
