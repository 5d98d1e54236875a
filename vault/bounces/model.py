"""The vocabulary of bounce handling: reasons, their suppression groups, and parse results.

Reason names follow Sisimai's (snake_case); groups follow the corpus README (P, T, N, I).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What sort of automatic message was parsed."""

    ARF = "arf"
    AUTOREPLY = "autoreply"
    DSN = "dsn"
    NONE = "none"


class Group(StrEnum):
    """What a reason means for the recipient's address."""

    IGNORE = "I"
    NOT_RECIPIENT = "N"
    PERMANENT = "P"
    TEMPORARY = "T"


class Reason(StrEnum):
    """Why a message did not arrive (or why a report was sent), named like Sisimai's reasons.

    ``syntax_error`` keeps Sisimai's meaning (our SMTP dialogue was malformed, x.5.x), which is
    not the recipient's fault; a malformed *address* (x.1.3) is ``bad_address``.
    """

    BAD_ADDRESS = "bad_address"
    BLOCKED = "blocked"
    COMPLAINT = "complaint"
    CONTENT_ERROR = "content_error"
    DELIVERED = "delivered"
    EXCEED_LIMIT = "exceed_limit"
    EXPIRED = "expired"
    FILTERED = "filtered"
    HAS_MOVED = "has_moved"
    HOST_UNKNOWN = "host_unknown"
    MAILBOX_FULL = "mailbox_full"
    MAILER_ERROR = "mailer_error"
    MESSAGE_TOO_BIG = "message_too_big"
    NETWORK_ERROR = "network_error"
    NO_RELAYING = "no_relaying"
    NOT_ACCEPT = "not_accept"
    ON_HOLD = "on_hold"
    POLICY_VIOLATION = "policy_violation"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    SECURITY_ERROR = "security_error"
    SPAM_DETECTED = "spam_detected"
    SUSPENDED = "suspended"
    SYNTAX_ERROR = "syntax_error"
    SYSTEM_ERROR = "system_error"
    SYSTEM_FULL = "system_full"
    UNDEFINED = "undefined"
    USER_UNKNOWN = "user_unknown"
    VACATION = "vacation"
    VIRUS_DETECTED = "virus_detected"


#: The group of every reason; a test checks that no reason is left out.
GROUP_OF: dict[Reason, Group] = {
    Reason.BAD_ADDRESS: Group.PERMANENT,
    Reason.BLOCKED: Group.NOT_RECIPIENT,
    Reason.COMPLAINT: Group.PERMANENT,
    Reason.CONTENT_ERROR: Group.NOT_RECIPIENT,
    Reason.DELIVERED: Group.IGNORE,
    Reason.EXCEED_LIMIT: Group.TEMPORARY,
    Reason.EXPIRED: Group.TEMPORARY,
    Reason.FILTERED: Group.TEMPORARY,
    Reason.HAS_MOVED: Group.PERMANENT,
    Reason.HOST_UNKNOWN: Group.PERMANENT,
    Reason.MAILBOX_FULL: Group.TEMPORARY,
    Reason.MAILER_ERROR: Group.NOT_RECIPIENT,
    Reason.MESSAGE_TOO_BIG: Group.NOT_RECIPIENT,
    Reason.NETWORK_ERROR: Group.NOT_RECIPIENT,
    Reason.NO_RELAYING: Group.NOT_RECIPIENT,
    Reason.NOT_ACCEPT: Group.PERMANENT,
    Reason.ON_HOLD: Group.TEMPORARY,
    Reason.POLICY_VIOLATION: Group.NOT_RECIPIENT,
    Reason.RATE_LIMITED: Group.NOT_RECIPIENT,
    Reason.REJECTED: Group.NOT_RECIPIENT,
    Reason.SECURITY_ERROR: Group.NOT_RECIPIENT,
    Reason.SPAM_DETECTED: Group.NOT_RECIPIENT,
    Reason.SUSPENDED: Group.TEMPORARY,
    Reason.SYNTAX_ERROR: Group.NOT_RECIPIENT,
    Reason.SYSTEM_ERROR: Group.NOT_RECIPIENT,
    Reason.SYSTEM_FULL: Group.NOT_RECIPIENT,
    Reason.UNDEFINED: Group.TEMPORARY,
    Reason.USER_UNKNOWN: Group.PERMANENT,
    Reason.VACATION: Group.IGNORE,
    Reason.VIRUS_DETECTED: Group.NOT_RECIPIENT,
}


def group_of(reason: Reason) -> Group:
    """The suppression group of a reason."""
    return GROUP_OF[reason]


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    """One recipient a report is about.

    ``recipient`` is the canonical form from ``parse_address`` when the address parses, else the
    lower-cased text as found. ``diagnostic`` is the raw text and may quote addresses: pass it
    through ``redact_diagnostic`` before storing or logging it.
    """

    recipient: str
    status: str | None
    diagnostic: str | None
    reason: Reason
    group: Group
    action: str | None = None
    remote_mta: str | None = None
    command: str | None = None
    feedback_type: str | None = None

    @property
    def domain(self) -> str:
        """The part after the last ``@`` (empty when there is none)."""
        return self.recipient.rpartition("@")[2]

    def __repr__(self) -> str:
        # Never let a stray repr() in a log or traceback carry the address or diagnostic.
        return (
            f"BouncedRecipient(domain={self.domain!r}, status={self.status!r}, "
            f"reason={self.reason.value!r}, group={self.group.value!r})"
        )


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """The result of parsing one message: its kind and the recipients it reports on."""

    kind: Kind
    recipients: tuple[BouncedRecipient, ...] = field(default=())

    @classmethod
    def empty(cls) -> ParsedMessage:
        return cls(kind=Kind.NONE, recipients=())
