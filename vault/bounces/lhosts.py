"""Reporting MTAs and gateways that word their notices in fixed phrases of their own.

Recognised by their headers (as Sisimai's ``Lhost`` classes recognise them), such a notice means
what its vendor's phrase table says, whatever a generic reading of the words would suggest:
McAfee's and MessageLabs' gateways write "No such user" only for a refused mailbox, while the
same words from an unknown filter may mask a refused sender.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import Message

from vault.bounces.classify import matches
from vault.bounces.findings import Finding, find_command
from vault.bounces.mime import header, header_addresses
from vault.bounces.model import Reason
from vault.bounces.status import find_status

R = Reason
_Table = tuple[tuple[re.Pattern[str], Reason], ...]


def _table(*rows: tuple[str, Reason], flags: re.RegexFlag = re.IGNORECASE) -> _Table:
    return tuple((re.compile(pattern, flags), reason) for pattern, reason in rows)


@dataclass(frozen=True, slots=True)
class _Lhost:
    """One reporting MTA: how to recognise its notices, and what its phrases mean.

    ``whole_report`` says the MTA writes its verdict apart from the recipient's lines (above
    the list of addresses, say), so the phrases are looked for in the whole report text too.
    ``special`` reads a structure of the MTA's own in a finding (Gmail's SMTP state);
    ``when_silent`` phrases name the reason of a finding that has no diagnostic of its own,
    from the whole report text (Google's headline over a DSN without a Diagnostic-Code).
    ``not_after`` names SMTP commands a refusal of which the table does not speak for (Exim's
    words after MAIL FROM or HELO are about the sender, whatever they add). ``code_first``: a
    specific enhanced code in the diagnostic outranks the MTA's own words (Gmail's "Mailbox
    Full (state 14)" under "Message will be retried"); the generic classifier weighs it.
    """

    name: str
    recognise: Callable[[_Heads], bool]
    phrases: _Table
    whole_report: bool = False
    special: Callable[[Finding], Finding] | None = None
    when_silent: _Table = ()
    not_after: frozenset[str] = frozenset()
    code_first: bool = False


@dataclass(frozen=True, slots=True)
class _Heads:
    """The headers the recognisers read, decoded once per message."""

    msg: Message
    subject: str
    sender: str  # the From header as written, display name and all
    from_address: str
    received: str

    @classmethod
    def of(cls, msg: Message) -> _Heads:
        found = header_addresses(msg, "From")
        return cls(
            msg=msg,
            subject=header(msg, "Subject"),
            sender=str(msg.get("From", "")),
            from_address=found[0].lower() if found else "",
            received=" ".join(str(value) for value in msg.get_all("Received") or []),
        )


# "Modified by McAfee Email Gateway", "... Email and Web Security Virtual Appliance".
def _is_mcafee(h: _Heads) -> bool:
    return "modified by mcafee" in header(h.msg, "X-NAI-Header").lower() and (
        h.subject.lower().startswith("delivery status")
    )


def _is_messagelabs(h: _Heads) -> bool:
    return (
        bool(h.msg.get("X-Msg-Ref"))
        and h.from_address.endswith("@messagelabs.com")
        and h.subject.lower().startswith("mail delivery failure")
    )


# Verizon Wireless's SMS and MMS gateways: vtext.com answers in its own "Error:" report.
def _is_verizon(h: _Heads) -> bool:
    sender = h.from_address
    if sender == "post_master@vtext.com":
        return ".vtext.com (" in h.received
    return sender.endswith(".vzwpix.com") and sender.startswith("sysadmin@")


def _is_interscan(h: _Heads) -> bool:
    sender = h.sender
    subject = h.subject
    return (
        "InterScan MSS" in sender
        or "InterScan Notification" in sender
        or subject
        in {
            "Mail could not be delivered",
            "メッセージを配信できません。",
            "メール配信に失敗しました",
        }
    )


def _is_domino(h: _Heads) -> bool:
    return h.subject.startswith("DELIVERY FAILURE:")


def _is_notes(h: _Heads) -> bool:
    return h.subject.startswith("Undeliverable message")


# KDDI's au (ezweb.ne.jp) MTA, which states the account's condition above the address list.
def _is_ezweb(h: _Heads) -> bool:
    return h.from_address.endswith("@ezweb.ne.jp") or "(EZweb Mail)" in h.received


# Amazon SES receiving: the domain owner's receipt rule bounces with a template of its choice,
# so "Mailbox does not exist" there is a rule's decision, not a directory's.
def _is_receiving_ses(h: _Heads) -> bool:
    return bool(h.msg.get("X-SES-Outgoing"))


def _is_gmail(h: _Heads) -> bool:
    return "<mailer-daemon@googlemail.com>" in h.sender.lower() and (
        "delivery status notification" in h.subject.lower()
    )


# Gmail ends the remote server's words with the state its SMTP client was in ("(state 14)"):
# the command that was refused, and what a refusal there means when the remote code is vague.
_GMAIL_STATE = re.compile(r" \(state (\d{1,2})\)")
_GMAIL_STATES: dict[str, tuple[str, Reason]] = {
    "6": ("MAIL", R.SYSTEM_ERROR),  # "Remote server does not support TLS"
    "8": ("AUTH", R.SYSTEM_ERROR),
    "9": ("AUTH", R.SYSTEM_ERROR),
    "12": ("AUTH", R.NO_RELAYING),
    "13": ("EHLO", R.BLOCKED),
    "14": ("RCPT", R.USER_UNKNOWN),
    "15": ("DATA", R.FILTERED),
    "17": ("DATA", R.FILTERED),
    "18": ("DATA", R.FILTERED),
}


def _specific_code(text: str) -> bool:
    """Whether ``text`` quotes an enhanced code without a zero part ("5.2.2", not "5.7.0")."""
    code = find_status(text) or ""
    return bool(code) and not code.endswith(".0") and ".0." not in code


def _gmail_state(finding: Finding) -> Finding:
    text = finding.diagnostic or ""
    match = _GMAIL_STATE.search(text)
    state = _GMAIL_STATES.get(match.group(1)) if match else None
    if state is None:
        return finding
    command, reason = state
    if _specific_code(text):
        return replace(finding, command=finding.command or command)
    return replace(finding, command=finding.command or command, reason=reason)


# Ipswitch IMail ("X-Mailer: <SMTP32 v8.22>").
def _is_imail(h: _Heads) -> bool:
    return h.subject.startswith("Undeliverable Mail ") or header(h.msg, "X-Mailer").startswith(
        "<SMTP32 v"
    )


def _is_zoho(h: _Heads) -> bool:
    return bool(h.msg.get("X-ZohoMail"))


_EXIM_MESSAGE_ID = re.compile(r"^\s*<\w{7}-\w{6}-\w{2}@")
_EXIM_SUBJECT = re.compile(
    r"mail delivery failed|warning: message \S+ delayed|delivery status notification"
    r"|mail failure|message frozen|error\(s\) in forwarding or filtering",
    re.IGNORECASE,
)


# Exim: any two of its From, Message-Id ("<1P1YNN-0003AD-Ga@host>") and Subject. Mail.ru runs a
# modified Exim whose words mean other things.
def _is_exim(h: _Heads) -> bool:
    if h.from_address.endswith(".mail.ru") or "@mail.ru" in h.from_address:
        return False
    marks = (
        h.sender.lstrip().startswith("Mail Delivery System"),
        _EXIM_MESSAGE_ID.match(str(h.msg.get("Message-Id", ""))) is not None,
        _EXIM_SUBJECT.search(h.subject) is not None,
    )
    return sum(marks) >= 2


def _is_aol(h: _Heads) -> bool:
    return bool(h.msg.get("X-AOL-IP"))


# Outlook.com (Hotmail): any two of its marks.
def _is_outlook(h: _Heads) -> bool:
    marks = (
        "delivery status notification" in h.subject.lower(),
        bool(h.msg.get("X-Message-Delivery")),
        bool(h.msg.get("X-Message-Info")),
        ".hotmail.com" in h.received,
    )
    return sum(marks) >= 2


_LHOSTS: tuple[_Lhost, ...] = (
    _Lhost(
        "McAfee",
        _is_mcafee,
        _table(
            (r" user \([^()\s]{1,254}@[^()\s]{1,254}\) unknown\. ", R.USER_UNKNOWN),
            (r"550 unknown user \S+@\S+", R.USER_UNKNOWN),
            (r"550 <[^<>\s]{1,254}@[^<>\s]{1,254}>\.+ user not exist", R.USER_UNKNOWN),
            (r"no such user", R.USER_UNKNOWN),
        ),
    ),
    _Lhost(
        "MessageLabs",
        _is_messagelabs,
        _table(
            (r"please turn on smtp authentication in your mail client", R.SECURITY_ERROR),
            # Case matters: "542 " is the reply code, " Rejected" the gateway's capitalised verdict.
            (r"(?-i:542 | Rejected|No such user)", R.USER_UNKNOWN),
        ),
    ),
    _Lhost(
        "Verizon",
        _is_verizon,
        _table(
            (r"550 - requested action not taken: no such user here", R.USER_UNKNOWN),
            (r"no valid recipients for this mm", R.USER_UNKNOWN),
        ),
    ),
    _Lhost(
        "InterScan MSS",
        _is_interscan,
        # The gateway's own notice, written when the next hop refused the recipient.
        _table((r"unable to deliver message to <", R.USER_UNKNOWN)),
    ),
    _Lhost(
        "Domino",
        _is_domino,
        _table(
            (r"not listed in (?:domino directory|public name & address book)", R.USER_UNKNOWN),
            (r"domino ?ディレクトリには見つかりません", R.USER_UNKNOWN),
            (r"cannot route mail to user", R.FILTERED),
            (r"several matches found in domino directory", R.SYSTEM_ERROR),
        ),
        whole_report=True,
    ),
    _Lhost(
        "Notes",
        _is_notes,
        _table(
            (r"user +not listed in public name & address book", R.USER_UNKNOWN),
            (r"ディレクトリのリストにありません", R.USER_UNKNOWN),
            (r"message has exceeded maximum hop count", R.NETWORK_ERROR),
        ),
        whole_report=True,
    ),
    _Lhost(
        "EZweb",
        _is_ezweb,
        _table(
            (r"the user\(s\) account is temporarily over quota", R.MAILBOX_FULL),
            (r"the user\(s\) account is (?:disabled|temporarily limited)", R.SUSPENDED),
            (r"your message was not delivered within ", R.EXPIRED),
        ),
        whole_report=True,
    ),
    _Lhost(
        "Gmail",
        _is_gmail,
        _table(
            (
                r"dns error: (?:domain name not found|dns server returned answer with no data)",
                R.HOST_UNKNOWN,
            ),
            (r"dns error: could not contact dns servers", R.EXPIRED),
            (r"delivery to the following recipient has been delayed", R.EXPIRED),
            (r"the recipient server did not accept our requests to connect", R.EXPIRED),
        ),
        whole_report=True,
        special=_gmail_state,
        code_first=True,
        when_silent=_table(
            (r"\*\* address not found \*\*", R.USER_UNKNOWN),
            (r"because the address couldn'?t be found", R.USER_UNKNOWN),
        ),
    ),
    _Lhost(
        "Outlook.com",
        _is_outlook,
        _table(
            (r"requested action not taken: mailbox unavailable", R.USER_UNKNOWN),
            (
                r"the mail could not be delivered to the recipient because the domain is not "
                r"reachable",
                R.HOST_UNKNOWN,
            ),
        ),
    ),
    _Lhost(
        "Exim",
        _is_exim,
        # The messages Exim itself writes (deliver.c, route.c, transports/*.c), case as written.
        _table(
            (r"user not found", R.USER_UNKNOWN),
            (
                r"all host address lookups failed permanently"
                r"|all relevant MX records point to non-existent hosts|Unrouteable address",
                R.HOST_UNKNOWN,
            ),
            (r"mailbox is full|error: quota exceed", R.MAILBOX_FULL),
            (
                r"an MX or SRV record indicated no SMTP service"
                r"|no host found for existing SMTP connection",
                R.NOT_ACCEPT,
            ),
            (
                r"angle-brackets nested too deep|expected word or \"<\""
                r"|domain missing in source-routed address|malformed address:",
                R.SYNTAX_ERROR,
            ),
            (
                r"delivery to (?:file|pipe) forbidden|local delivery failed|LMTP error after ",
                R.SYSTEM_ERROR,
            ),
            (r"Too many \"Received\" headers", R.CONTENT_ERROR),
            # Still queued, or given up on after the retry period.
            (
                r"retry timeout exceeded|No action is required on your part"
                r"|retry time not reached for any host after a long failure period"
                r"|all hosts have been failing for a long time and were last tried"
                r"|Delay reason: |has been frozen|was frozen on arrival by ",
                R.EXPIRED,
            ),
            flags=re.NOFLAG,
        ),
        not_after=frozenset({"MAIL", "HELO", "EHLO"}),
    ),
    _Lhost(
        "Aol",
        _is_aol,
        # AOL's relay gives up on a domain whose DNS answers nonsense for MX: it treats the
        # domain as one that accepts no mail.
        _table(
            (r"host or domain name not found", R.HOST_UNKNOWN),
            (r"type=mx: malformed or unexpected name server reply", R.NOT_ACCEPT),
        ),
    ),
    _Lhost(
        "IMail",
        _is_imail,
        # IMail's own capitalised wording, the most specific first.
        _table(
            (r"Requested action not taken: virus detected", R.VIRUS_DETECTED),
            (r"User mailbox exceeds allowed size", R.MAILBOX_FULL),
            (r"Unknown user|Invalid final delivery userid", R.USER_UNKNOWN),
            (r"Unknown host", R.HOST_UNKNOWN),
            # "Delivery failed 20 attempts"; its bare "undeliverable to" names no reason.
            (r"Delivery failed \d", R.EXPIRED),
            flags=re.NOFLAG,
        ),
    ),
    _Lhost("Zoho", _is_zoho, _table((r"host not reachable", R.EXPIRED))),
    _Lhost(
        "Amazon SES receiving",
        _is_receiving_ses,
        _table(
            (r"mailbox does not exist", R.FILTERED),
            (r"message too large", R.MESSAGE_TOO_BIG),
            (r"mailbox full", R.MAILBOX_FULL),
            (r"message content rejected", R.CONTENT_ERROR),
        ),
    ),
)


# A vendor's verdict that only says "no such mailbox", "no such host", "system error" or "gave
# up" yields to words that name something more precise about the mailbox or the message, as in
# Sisimai, which re-examines such reasons against its first phrase classes.
_PROVISIONAL = frozenset(
    {
        R.USER_UNKNOWN,
        R.HOST_UNKNOWN,
        R.SYSTEM_ERROR,
        R.SECURITY_ERROR,
        R.EXPIRED,
        R.NETWORK_ERROR,
    }
)
_MORE_PRECISE = (
    R.MAILBOX_FULL,
    R.MESSAGE_TOO_BIG,
    R.EXCEED_LIMIT,
    R.SUSPENDED,
    R.HAS_MOVED,
    R.NO_RELAYING,
)


def _refined(reason: Reason, diagnostic: str) -> Reason:
    if reason in _PROVISIONAL:
        for precise in _MORE_PRECISE:
            if matches(precise, diagnostic):
                return precise
    return reason


def _lookup(table: _Table, text: str) -> Reason | None:
    for pattern, reason in table:
        if pattern.search(text):
            return reason
    return None


def with_lhost_reasons(msg: Message, report: str, findings: list[Finding]) -> list[Finding]:
    """``findings`` with the reason their reporting MTA's own phrase names, where it names one.

    ``report`` is the human-readable text of the report (see ``textual.report_text``).
    """
    heads = _Heads.of(msg)
    lhost = next((lh for lh in _LHOSTS if lh.recognise(heads)), None)
    if lhost is None:
        return findings
    whole = " ".join(report.split())
    named = []
    for finding in findings:
        if finding.reason is not None:  # the format's parser knew already (SES, PowerMTA)
            named.append(finding)
            continue
        diagnostic = " ".join((finding.diagnostic or "").split())
        if lhost.special is not None:
            finding = lhost.special(finding)
        reason = finding.reason
        command = finding.command or find_command(diagnostic)
        decided_by_code = lhost.code_first and _specific_code(diagnostic)
        if reason is None and command not in lhost.not_after and not decided_by_code:
            reason = _lookup(lhost.phrases, diagnostic)
            if reason is None and lhost.whole_report:
                reason = _lookup(lhost.phrases, whole)
            if reason is None and not diagnostic:
                reason = _lookup(lhost.when_silent, whole)
        if reason is not None:
            finding = replace(finding, reason=_refined(reason, diagnostic))
        named.append(finding)
    return named
