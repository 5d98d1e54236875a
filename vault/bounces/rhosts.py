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


def provider_reason(diagnostic: str | None) -> Reason | None:
    """The reason a provider's own refusal reference gives, if the diagnostic carries one."""
    if not diagnostic:
        return None
    match = _FRANCE_PTT.search(diagnostic)
    if match:
        # A code missing from the table is one Orange/La Poste use for "try again later".
        return _FRANCE_PTT_CODES.get(match.group(0)[-3:], Reason.UNDEFINED)
    match = _GODADDY.search(diagnostic)
    if match:
        return _GODADDY_CODES.get(match.group(1))
    return None
