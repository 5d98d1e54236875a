"""Plain-text bounces (Exim, qmail, Postfix, Sendmail, Exchange, Gmail, Yahoo, ...): the human
part of a report split into one block of text per failed recipient.

No MTA is special-cased by name: the layouts they share (an address opening a line, followed by
the remote server's words) are enough, with the sender's own addresses left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_string
from email.message import Message
from email.policy import compat32

from vault.bounces.findings import Finding
from vault.bounces.mime import (
    ADDRESS,
    addresses_in,
    header,
    header_addresses,
    normalize_recipient,
    original_message,
    part_text,
    walk_outer,
)

# Where the returned original starts in a single-part bounce; everything after it is the
# sender's own message and must not be mistaken for the report.
# The separator prefix is matched possessively (``*+``): with plain ``*`` a long line of ``=`` or
# ``-`` that is not followed by a keyword backtracks cubically (seconds for a 2 kB message).
_CUT = re.compile(
    r"^(?:(?=[ \t>#]*+[\-=_* \t]*?(?:--|==|__|\*\*))[ \t>#]*+(?:[\-=_*]+[ \t]*)*+.{0,40}?"
    r"(?:original|returned|undelivered|unsent|rejected|copy of|below this line|message header|"
    r"headers? of|(?:message|original|mail|content) follows|message text|"
    r"元のメッセージ|元メッセージ|送信したメッセージ)"
    r"|original (?:message|mail) (?:as )?follows"
    r"|[ \t]*the original message (?:was|is) (?:attached|included|below)"
    r"|[ \t]*below is (?:a copy|the original)|[ \t]*a copy of the original message|"
    r"(?:return-path|received|dkim-signature|x-received|arc-seal|message-id|mime-version"
    r"|x-originating-ip|x-google-smtp-source|x-gm-message-state):[ \t])",
    re.IGNORECASE | re.MULTILINE,
)
_ADDR = rf"(?:{ADDRESS})"
# A line that opens a recipient's block: the address first, then nothing or a separator.
_START = re.compile(
    rf"""^[ \t]*(?:[45]\d\d[ -](?:[245]\.\d{{1,3}}\.\d{{1,3}}[ ])?)?
    (?:(?:final[- ]|original[- ]|failed[- ]|invalid[- ]|bad[- ]|unknown[- ])?
       (?:recipient|address|rcpt(?:[ ]to)?|user|e-?mail|destination)(?:[ ]address)?(?:\(es\)|s)?
       [ \t]*[:=][ \t]*(?:rfc822;[ \t]*)?)?
    [<"(\[]?(?P<addr>{_ADDR})[>")\]]?
    (?P<rest>
        [ \t]*$
      | [ \t]*(?:\((?:expanded[ ]from|generated[ ]from)?[^)]*\)[ \t]*)?(?::|\.\.\.|[ ]-[ ]).*$
      | [ \t]+(?:\[|\(|on[ ]|was[ ]|is[ ]|has[ ]|could[ ]|failed|error|unknown|user|mailbox
                |recipient|delivery|host|domain|SMTP|<<<|\d{{3}}[ ]).*$
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
# Sendmail transcripts name the recipient in the command before the reply that refused it.
# Postfix's reports of its own SMTP server's errors write the client's commands as "In:".
_TRANSCRIPT = re.compile(
    rf"^[ \t]*(?:>>>|In:)[ \t]*RCPT[ \t]+TO:[ \t]*<?(?P<addr>{_ADDR})>?", re.I | re.M
)
# "While talking to mx.example.org:" (Sendmail 5) and "... while talking to mx.example.org.:"
# (Sendmail 8) open the transcript of one SMTP session.
_SESSION = re.compile(r"^[ \t]*(?:\.\.\.[ \t]*)?while talking to [^\s:]+:[ \t]*$", re.I)
# "550 example.org (smtp)... 550 Host unknown": a mailer's attempt at a host, not a recipient.
_MAILER_ATTEMPT = re.compile(
    r"^[45]\d\d[ \t]+(?:[45]\.\d{1,3}\.\d{1,3}[ \t]+)?[^\s<>@()]+[ \t]+\([\w.\-]+\)\.\.\.[ \t]"
)
# Message identifiers look like addresses; lines that carry them never name a recipient.
_ID_LINE = re.compile(
    r"^[\s>]*(?:message-?id|references|in-reply-to|x-message-id|original-envelope-id)\s*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
_ANGLED = re.compile(rf"<({_ADDR})>")
_NON_RECIPIENT_LOCAL = re.compile(r"^(?:mailer-daemon|mail-daemon|mailerdaemon)$", re.I)


@dataclass(slots=True)
class _Block:
    raw: str
    lines: list[str] = field(default_factory=list)


def report_text(msg: Message) -> str:
    """The human-readable part of a report, without the returned original message."""
    chunks = []
    for part in walk_outer(msg):
        ctype = part.get_content_type()
        # A multipart leaf is one whose boundary the parser could not find: only text is left.
        if (ctype.startswith("text/") and ctype != "text/rfc822-headers") or ctype.startswith(
            "multipart/"
        ):
            chunks.append(part_text(part))
    text = "\n".join(chunks)
    cut = _CUT.search(text, _skip_leading_headers(text))
    return text[: cut.start()] if cut else text


def returned_headers(msg: Message) -> Message | None:
    """The headers of the returned original, from its own MIME part or, in a single-part
    bounce, from the text after the line where the report ends ("Unsent message follows")."""
    original = original_message(msg)
    if original is not None:
        return original
    text = "\n".join(
        part_text(part) for part in walk_outer(msg) if part.get_content_type() == "text/plain"
    )
    cut = _CUT.search(text, _skip_leading_headers(text))
    if cut is None:
        return None
    rest = text[cut.start() :]
    if not _HEADER_LINE.match(rest):
        rest = rest.partition("\n")[2]
    try:
        return message_from_string(rest.lstrip("\n"), policy=compat32)
    except Exception:  # a pasted original the parser cannot read names nobody
        return None


_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9\-]*:[ \t]")


def _skip_leading_headers(text: str) -> int:
    # A body may start with a stray header-like line (quoted-printable artefacts); start the
    # search for the returned original only after the first line with prose.
    return 0 if not text.lstrip().lower().startswith(("received:", "return-path:")) else 1


def sender_addresses(msg: Message) -> set[str]:
    """Addresses of the report's own sender and addressee: never the failed recipient."""
    found = header_addresses(msg, "From", "To", "Return-Path", "Reply-To", "Sender")
    return {norm for raw in found if (norm := normalize_recipient(raw))}


def _addressees(msg: Message) -> set[str]:
    found = header_addresses(msg, "To")
    return {norm for raw in found if (norm := normalize_recipient(raw))}


def recipient_blocks(text: str, *, exclude: set[str]) -> dict[str, str]:
    """The diagnostic text of each recipient's block, keyed by canonical address."""
    return {addr: _diagnostic(block) for addr, block in _blocks(text, exclude).items()}


def _blocks(text: str, exclude: set[str]) -> dict[str, _Block]:
    """One block of lines per recipient, keyed by canonical address, in order of appearance.

    Sendmail's transcripts open each SMTP session with "While talking to host:" and close a
    mailer's attempt with "550 host (smtp)... reply": such lines end the block before them and
    belong to the recipient line that follows ("554 <a@b>... Remote protocol error"), which
    is what the session was about; when no recipient follows, they stay with the one before.
    """
    blocks: dict[str, _Block] = {}
    current: _Block | None = None
    pending: list[str] | None = None  # a session's lines, not yet owned by a recipient
    owner: _Block | None = None  # the block that was open when the session began
    for line in text.split("\n"):
        match = _START.match(line) or _TRANSCRIPT.match(line)
        if match:
            raw = match.group("addr")
            norm = normalize_recipient(raw)
            local = raw.rpartition("@")[0]
            if norm and norm not in exclude and not _NON_RECIPIENT_LOCAL.match(local):
                current = blocks.setdefault(norm, _Block(raw=raw))
                if pending:
                    current.lines.extend(pending)
                pending, owner = None, None
                current.lines.append(line)
                continue
        session = _SESSION.match(line)
        if session or (pending is None and _MAILER_ATTEMPT.match(line)):
            if pending is None:
                owner, current = current, None
            elif session and owner is not None:
                owner.lines.extend(pending)
            pending = [line]
            continue
        if pending is not None:
            pending.append(line)
        elif current is not None:
            current.lines.append(line)
    if pending and owner is not None:
        owner.lines.extend(pending)
    return blocks


def parse_text(msg: Message, text: str) -> list[Finding]:
    """Recipients and their diagnostics from the text of a non-standard bounce."""
    exclude = sender_addresses(msg)
    text = _ID_LINE.sub("", text)
    failed = [
        norm
        for raw in header_addresses(msg, "X-Failed-Recipients")
        if (norm := normalize_recipient(raw))
    ]
    if msg.get("X-MLServer") and not failed:
        # fml quotes the address it refers to in angle brackets ("not a member ... <list@>").
        diag = " ".join(text.split())
        quoted = [n for raw in _ANGLED.findall(text) if (n := normalize_recipient(raw))]
        return [Finding(recipient=a, diagnostic=diag) for a in dict.fromkeys(quoted)]
    blocks = _blocks(text, exclude)
    if not blocks and not failed:
        # A report about the very address it is sent to (someone mailing themselves, or a
        # forwarder): a line that opens with it still names the failed recipient.
        blocks = _blocks(text, exclude - {a for a in exclude if a in _addressees(msg)})
    diag_all = " ".join(text.split())
    if failed:
        return [
            Finding(
                recipient=addr, diagnostic=_diagnostic(blocks[addr]) if addr in blocks else diag_all
            )
            for addr in dict.fromkeys(failed)
        ]
    if blocks:
        return [
            Finding(recipient=a, diagnostic=_block_diagnostic(b, diag_all))
            for a, b in blocks.items()
        ]
    loose = [
        norm
        for raw in addresses_in(text)
        if (norm := normalize_recipient(raw))
        and norm not in exclude
        and not _NON_RECIPIENT_LOCAL.match(norm.rpartition("@")[0])
    ]
    return [Finding(recipient=addr, diagnostic=diag_all) for addr in dict.fromkeys(loose)]


def _block_diagnostic(block: _Block, whole: str) -> str:
    # A block without a reply code while the report has one only lists the address (a "Message
    # details" section); the error it failed with is elsewhere in the report.
    if not any(_REPLY_CODE.search(line) for line in block.lines) and _REPLY_CODE.search(whole):
        return whole
    return _diagnostic(block)


_REPLY_CODE = re.compile(r"(?:^|[\s;(\[])[245][0-7]\d(?:[ :-]+\S)|\b[245]\.\d{1,3}\.\d{1,3}\b")


def _diagnostic(block: _Block) -> str:
    return " ".join(" ".join(block.lines).split())


_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|failure|failed|notification|report|problem)|"
    r"failure notice|returned mail|mail delivery|could not (?:be )?deliver|non[- ]?delivery|"
    r"not delivered|delivery error|bounce|mail failure|rejected|warning: message|"
    r"nondeliverable|mail system error|error sending message|fehlgeschlagen|unzustellbar|"
    r"non remis|no se pudo entregar|配信|不達|エラー|returned to sender|failed|failure|"
    r"error sending your (?:mail|message)",
    re.IGNORECASE,
)
_DAEMON_FROM = re.compile(
    r"mailer-daemon|mail-daemon|post_?master|mail delivery|mail administrator|mdaemon|"
    r"mail ?system|daemon|no-?reply.*(?:bounce|delivery)|bounce",
    re.IGNORECASE,
)
_BOUNCE_BODY = re.compile(
    r"could not be delivered|couldn'?t be delivered|was not delivered|delivery (?:has )?failed|"
    r"undeliverable|permanent (?:error|failure)|failed permanently|unable to deliver|"
    r"did not reach|delivery to the following recipient|following address(?:es)? (?:had|failed)|"
    r"not be delivered|wasn'?t able to deliver|error (?:occurred|has occurred) while|"
    r"returned to sender|delivery status notification|trouble delivering your message|"
    r"invalid user address|transcript of session follows",
    re.IGNORECASE,
)


def looks_like_bounce(msg: Message, text: str) -> bool:
    """Whether a message without a DSN part is a delivery failure report at all."""
    if msg.get("X-Failed-Recipients"):
        return True
    if msg.get("X-MLServer") and "-admin@" in header(msg, "From").lower():
        # fml mailing list manager refusing a post (not a member, loop, duplicate).
        return True
    subject = header(msg, "Subject")
    sender = header(msg, "From")
    null_path = header(msg, "Return-Path").strip() in {"<>", ""}
    if _DAEMON_FROM.search(sender) and (
        _BOUNCE_SUBJECT.search(subject) or _BOUNCE_BODY.search(text)
    ):
        return True
    if _BOUNCE_SUBJECT.search(subject) and (_BOUNCE_BODY.search(text) or null_path):
        return True
    return null_path and bool(_BOUNCE_BODY.search(text)) and bool(header(msg, "Return-Path"))
