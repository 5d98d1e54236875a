"""Classification of one bounced recipient into a reason: status code and diagnostic text together.

A specific status code decides unless the diagnostic names a more precise reason that the code
is known to be misused for (corporate filters answer 5.1.1 to spam, providers 5.7.1 to anything).
"""

from __future__ import annotations

import functools
import re

from vault.bounces.model import Reason
from vault.bounces.phrases import MAILBOX_MISSING, NETWORK_FAILURE, PHRASES, QUEUE_EXPIRY
from vault.bounces.screen import Screened
from vault.bounces.status import reason_for_status

# Reasons tried first, in this order: the specific ones a status code or a phrase can name.
_FIRST_PASS = (
    Reason.MAILBOX_FULL,
    Reason.MESSAGE_TOO_BIG,
    Reason.EXCEED_LIMIT,
    Reason.SUSPENDED,
    Reason.HAS_MOVED,
    Reason.NO_RELAYING,
    Reason.USER_UNKNOWN,
    Reason.FILTERED,
    Reason.REJECTED,
    Reason.HOST_UNKNOWN,
    Reason.SPAM_DETECTED,
    Reason.RATE_LIMITED,
    Reason.BLOCKED,
)
# Tried when the first pass found nothing and the code is vague or merely says "some error".
_SECOND_PASS = (
    Reason.MAILBOX_FULL,
    Reason.SPAM_DETECTED,
    Reason.POLICY_VIOLATION,
    Reason.VIRUS_DETECTED,
    Reason.SECURITY_ERROR,
    Reason.SYSTEM_ERROR,
    Reason.NETWORK_ERROR,
    Reason.SUSPENDED,
    Reason.EXPIRED,
    Reason.CONTENT_ERROR,
    Reason.SYSTEM_FULL,
    Reason.NOT_ACCEPT,
    Reason.MAILER_ERROR,
)
# Codes this vague say only that something failed, so the text gets a second look.
_VAGUE = frozenset(
    {
        Reason.USER_UNKNOWN,
        Reason.SYSTEM_ERROR,
        Reason.SECURITY_ERROR,
        Reason.NETWORK_ERROR,
        Reason.SYNTAX_ERROR,
    }
)
# A 5.1.1 that also talks about these was not about the mailbox (filters answer 5.1.1 to spam,
# Facebook to a sender its user refuses: "Refused due to recipient preferences").
_OVERRIDE_USER_UNKNOWN = (
    Reason.FILTERED,
    Reason.NO_RELAYING,
    Reason.BLOCKED,
    Reason.MAILBOX_FULL,
    Reason.HAS_MOVED,
    Reason.REJECTED,
)
# SMTP commands sent before the message itself: a refusal there cannot be about its content.
_BEFORE_DATA = frozenset({"CONNECT", "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT"})
_SPACE = re.compile(r"\s+")
# How directory-backed servers (Exchange, Domino, Notes, IMail) say an account does not exist;
# unlike a bare "user unknown", filters do not borrow these words.
_DIRECTORY_MISS = re.compile(
    r"recipient name is not recognized|not listed in (?:the )?(?:domino directory|public name"
    r"|directory)|invalid (?:final delivery userid|recipient)|user not exist"
    r"|unknown user(?::| [^\s<]+@)|recip(?:ient)?notfound|no valid recipients",
    re.IGNORECASE,
)
# The sending side's own directory could not be asked (qmail-ldap): retrying cannot help.
_DIRECTORY_FAILURE = re.compile(
    r"unable to contact ldap server|timeout while talking to ldap", re.I
)
# A DNS answer that was broken or never came: says nothing of whether the domain exists.
_DNS_FAILED = re.compile(
    r"malformed (?:or unexpected )?name server reply|host name lookup failure"
    r"|host not found, try again",
    re.IGNORECASE,
)
_SENDER_REFUSED = re.compile(
    r"\bsender (?:address|domain) (?:rejected|refused|denied)|\bdomain of sender address ", re.I
)
_MAILBOX_WORDS = re.compile(r"mail ?box|quota|mail ?folder", re.IGNORECASE)
_NULL_MX = re.compile(r"null ?mx|no smtp service|accepts no mail", re.IGNORECASE)


# Most diagnostics contain none of a reason's phrases; the screen says so for a fraction of
# the cost of the search (the answers are the patterns' own).
_SCREENED = {reason: Screened(pattern) for reason, pattern in PHRASES.items()}


# One classification asks about the same reason and text up to four times (user unknown is
# weighed in the first pass, against the override list and for the filter rules). Small on
# purpose: it only needs to span one classification, and holds no text for longer.
@functools.lru_cache(maxsize=32)
def matches(reason: Reason, text: str) -> bool:
    """Whether ``text`` contains a phrase that names ``reason``."""
    pattern = _SCREENED.get(reason)
    return bool(pattern and text and pattern.search(text))


def classify(
    *,
    status: str | None,
    diagnostic: str | None,
    action: str | None = None,
    diagnostic_type: str | None = None,
    command: str | None = None,
) -> Reason:
    """The reason for one recipient's report.

    ``status`` is an RFC 3463 code, ``diagnostic`` the remote server's words, ``action`` the DSN
    ``Action:`` value, ``diagnostic_type`` the type of ``Diagnostic-Code:`` (``smtp``,
    ``x-unix``...), ``command`` the SMTP command that was refused, when known.
    """
    action = (action or "").strip().lower()
    if action in {"delivered", "relayed", "expanded"} or (status or "").startswith("2."):
        return Reason.DELIVERED
    text = _SPACE.sub(" ", diagnostic or "").strip()
    command = (command or "").upper()
    coded = reason_for_status(status)

    # A receiver that publishes a null MX (RFC 7505) accepts no mail at all, whatever the code.
    # GMX says "No SMTP service" to hosts it refuses; the reason it gives then (a bad PTR
    # record, a block list) is about the sending host, not the recipient's domain.
    if _NULL_MX.search(text) and not matches(Reason.BLOCKED, text):
        return Reason.NOT_ACCEPT
    local_program = (diagnostic_type or "").strip().lower() == "x-unix"

    for reason in _FIRST_PASS:
        if _first_pass_match(reason, coded=coded, text=text, command=command, status=status or ""):
            # A local delivery program failed (procmail, a pipe): unless it says the mailbox is
            # full, the mailbox itself was never judged.
            if local_program and reason is not Reason.MAILBOX_FULL:
                return Reason.MAILER_ERROR
            # A temporary failure cannot show that a domain does not exist: DNS was flaky.
            if reason is Reason.HOST_UNKNOWN and (status or "").startswith("4."):
                return Reason.NETWORK_ERROR
            return reason
    if local_program:
        return Reason.MAILER_ERROR
    if coded is Reason.HOST_UNKNOWN and _DNS_FAILED.search(text):
        # 5.4.4 with "malformed name server reply": the lookup failed, the domain may exist.
        return Reason.NETWORK_ERROR

    if coded is None or coded in _VAGUE or coded is Reason.EXPIRED:
        # Retried until the queue gave up: why the host could not be reached comes first.
        if _DIRECTORY_FAILURE.search(text):
            return Reason.SYSTEM_ERROR
        if NETWORK_FAILURE.search(text):
            return Reason.NETWORK_ERROR
        # A permanent code is the remote server's refusal, not a queue that ran out.
        if QUEUE_EXPIRY.search(text) and not (status or "").startswith("5."):
            return Reason.EXPIRED
    if coded is None or coded in _VAGUE:
        for reason in _SECOND_PASS:
            if matches(reason, text):
                return reason
    if coded is not None:
        return coded
    subject = (status or "").split(".")[1:2]
    if subject == ["6"]:
        return Reason.CONTENT_ERROR
    if subject == ["7"]:
        return Reason.SECURITY_ERROR
    if (diagnostic_type or "").strip().lower() == "x-postfix":
        return Reason.MAILER_ERROR
    if matches(Reason.SYNTAX_ERROR, text):
        return Reason.SYNTAX_ERROR
    if action in {"delayed", "expired"}:
        return Reason.EXPIRED
    if command in {"HELO", "EHLO", "CONNECT"}:
        return Reason.BLOCKED
    return Reason.ON_HOLD if text else Reason.UNDEFINED


def _first_pass_match(
    reason: Reason, *, coded: Reason | None, text: str, command: str, status: str = ""
) -> bool:
    if reason is Reason.USER_UNKNOWN:
        if coded is Reason.SUSPENDED or _SENDER_REFUSED.search(text):
            return False
        if coded is Reason.NOT_ACCEPT and status.endswith(".1.10"):
            # x.1.10 is RFC 7505's null MX (caught above by its words) and Exchange Online's
            # "RecipientNotFound": with user-unknown words it is the latter.
            return matches(reason, text)
        if coded is Reason.USER_UNKNOWN:
            return not any(matches(other, text) for other in _OVERRIDE_USER_UNKNOWN)
        # Without a mailbox code, "user unknown" is trusted only as the answer to RCPT TO, or
        # in a directory server's own words: said after DATA, it is a content filter's mask.
        if command == "RCPT":
            return matches(reason, text)
        return not command and coded is None and bool(_DIRECTORY_MISS.search(text))
    if reason is Reason.FILTERED:
        if coded is Reason.FILTERED:
            return matches(Reason.USER_UNKNOWN, text) or matches(reason, text)
        if command in _BEFORE_DATA:
            return False
        if matches(reason, text) or (command == "DATA" and matches(Reason.USER_UNKNOWN, text)):
            return True
        # Nothing shows the words answered RCPT TO and the code does not name the mailbox: a
        # filter that masks its refusal as "no such user" (Sisimai reads these as filtered).
        return (
            not command
            and (coded is None or coded in _VAGUE)
            and MAILBOX_MISSING.search(text) is not None
            and not matches(Reason.REJECTED, text)
        )
    if reason is Reason.REJECTED:
        if coded is Reason.REJECTED or _SENDER_REFUSED.search(text):
            # Postfix refuses an unknown or unverified sender domain at RCPT TO, in its own
            # words: "Sender address rejected: Domain not found" is not about the recipient.
            return True
        if command and command not in {"MAIL", "DATA"}:
            return False
        return matches(reason, text)
    if reason is Reason.HOST_UNKNOWN and coded is None and NETWORK_FAILURE.search(text):
        # "Host not found, try again" without a code: the lookup failed, which says nothing
        # about whether the domain exists (a 5.4.4 or 5.1.2 does).
        return False
    if reason is Reason.HOST_UNKNOWN and coded is reason:
        return not matches(Reason.NETWORK_ERROR, text)
    if reason is Reason.SUSPENDED:
        return matches(reason, text)
    if reason is Reason.MAILBOX_FULL and coded is Reason.SYSTEM_FULL:
        # x.3.1 and x.4.5 are about the server's own storage: "insufficient disk space" there
        # is its disk, and only words that name the mailbox make it the recipient's.
        return matches(reason, text) and _MAILBOX_WORDS.search(text) is not None
    if reason is Reason.MESSAGE_TOO_BIG and coded is Reason.EXCEED_LIMIT:
        # x.2.3: the recipient's own size limit, however the server words "too big"; Exchange
        # names the per-recipient message size limit (RecipSizeLimit) and means the message.
        return "recipsizelimit" in text.lower()
    return coded is reason or matches(reason, text)
