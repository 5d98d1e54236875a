"""What a format parser extracts for one recipient, before classification turns it into a result.

Keeping this apart lets every parser (DSN, plain text, JSON) share one classification step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from vault.bounces.classify import classify
from vault.bounces.model import BouncedRecipient, Group, Reason, group_of
from vault.bounces.rhosts import provider_reason, status_reason
from vault.bounces.status import (
    find_remote_status,
    find_reply_code,
    status_from_reply,
)

_COMMANDS = (
    (re.compile(r"in reply to (?:the )?(RCPT TO|MAIL FROM|end of DATA|DATA|HELO|EHLO)", re.I), 1),
    (
        re.compile(
            r"after (RCPT TO|MAIL FROM|end of data|DATA|initial connection|HELO|EHLO)", re.I
        ),
        1,
    ),
    (re.compile(r">>> ?(RCPT|MAIL|DATA|HELO|EHLO|QUIT)", re.I), 1),
    (re.compile(r"\[(RCPT_TO|MAIL_FROM|DATA)\]"), 1),
    # X3 ("SMTP:RCPT host"), qmail ("most progress was RCPT TO response"), GMX and X6 ("after
    # RCPT command", "Error following RCPT command"), 1&1 ("for TEXT command": the message).
    (re.compile(r"\bSMTP:(RCPT|MAIL|DATA)\b"), 1),
    (re.compile(r"most progress was (RCPT TO|MAIL FROM|DATA) response", re.I), 1),
    (re.compile(r"(?:after|following|for) (RCPT|MAIL|DATA|TEXT) command", re.I), 1),
    (re.compile(r"SMTP command:? *(RCPT|MAIL|DATA)\b", re.I), 1),
    (re.compile(r"does not like (recipient|sender)", re.I), 1),
    (re.compile(r"but (sender|my name) was rejected", re.I), 1),
    (re.compile(r"(failed after I sent the message)", re.I), 1),
)
_COMMAND_NAMES = {
    "rcpt to": "RCPT",
    "rcpt_to": "RCPT",
    "rcpt": "RCPT",
    "recipient": "RCPT",
    "mail from": "MAIL",
    "mail_from": "MAIL",
    "mail": "MAIL",
    "sender": "MAIL",
    "end of data": "DATA",
    "data": "DATA",
    "failed after i sent the message": "DATA",
    "helo": "HELO",
    "ehlo": "EHLO",
    "my name": "HELO",
    "initial connection": "CONNECT",
    "text": "DATA",
    "quit": "",
}


def find_command(text: str) -> str | None:
    """The SMTP command a refusal answered, as the MTA's wording reveals it."""
    for pattern, group in _COMMANDS:
        match = pattern.search(text)
        if match:
            return _COMMAND_NAMES.get(match.group(group).lower()) or None
    return None


def names_recipient(text: str, recipient: str) -> bool:
    """Whether a remote reply quotes the recipient ("550: <a@b>: User unknown")."""
    local, _, domain = recipient.rpartition("@")
    if not local:
        return False
    quoted = re.escape(local) + "@" + re.escape(domain)
    pattern = rf"\b[45]\d\d:?[ -](?:[245]\.\d+\.\d+ )?(?:\S+ ){{0,3}}<?{quoted}>?"
    return re.search(pattern, text, re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class Finding:
    """One recipient as a parser found it."""

    recipient: str
    status: str | None = None
    diagnostic: str | None = None
    action: str | None = None
    diagnostic_type: str | None = None
    command: str | None = None
    remote_mta: str | None = None
    reason: Reason | None = None
    feedback_type: str | None = None

    def completed(self) -> Finding:
        """Fill the status and command from the diagnostic text when the parser had none."""
        text = self.diagnostic or ""
        quoted = find_remote_status(text)
        status = self.status
        if quoted and not quoted.endswith(".0.0") and _prefer_remote(status, quoted):
            status = quoted
        status = status or quoted or status_from_reply(find_reply_code(text))
        # A reply that merely quotes the recipient does not say which command it answered:
        # Postfix, Active!Hunter and MXLogic relay "550 <a@b>: User unknown" from filters that
        # refuse after DATA too, so only formats that say so (Yahoo's, see textual) imply RCPT.
        command = self.command or find_command(text)
        return replace(self, status=status, command=command)


def _prefer_remote(status: str | None, quoted: str) -> bool:
    """Whether the remote server's own code in the diagnostic beats the DSN's ``Status``.

    "Status: 5.0.0" with "550 5.7.1 ..." in the diagnostic: the MTA wrapped the remote server's
    precise code in a generic one of its own. "Status: 4.4.7" (the queue gave up) with "452
    4.4.5 Insufficient disk space": the status is the reporting MTA's verdict, the quoted code
    what the remote server actually said, which is why it gave up. A quoted code of another
    class (a 5xx quoted under a 4.x.x status) is an earlier reply, not the final word.
    """
    if not status or status.endswith(".0.0"):
        return True
    return status != quoted and status[0] == quoted[0]


def to_recipient(finding: Finding) -> BouncedRecipient:
    """Classify a finding (unless its parser already knew the reason) into a result."""
    done = finding.completed()
    reason = (
        done.reason
        or provider_reason(
            done.diagnostic, done.remote_mta, status=done.status, command=done.command
        )
        or status_reason(done.status)
        or classify(
            status=done.status,
            diagnostic=done.diagnostic,
            action=done.action,
            diagnostic_type=done.diagnostic_type,
            command=done.command,
        )
    )
    group: Group = group_of(reason)
    diagnostic = " ".join(done.diagnostic.split()) if done.diagnostic else None
    return BouncedRecipient(
        recipient=done.recipient,
        status=done.status,
        diagnostic=diagnostic,
        reason=reason,
        group=group,
        action=done.action,
        remote_mta=done.remote_mta,
        command=done.command,
        feedback_type=done.feedback_type,
    )
