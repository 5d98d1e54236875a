"""Defensive access to a parsed message: decoded text parts, headers and the returned original.

Every helper tolerates broken MIME, unknown charsets and missing parts, returning empty values.
"""

from __future__ import annotations

import codecs
import html
import re
import weakref
from email import message_from_bytes, message_from_string
from email.header import Header, decode_header, make_header
from email.message import Message
from email.policy import compat32

from vault.addresses import parse_address
from vault.errors import InvalidAddress

# Quoted or dot-atom local part, then a domain; a domain without a dot is accepted only where a
# field says it is a recipient (``kijitora@mailhub0`` in a DSN), never when scanning prose.
ADDRESS = (
    r"(?:\"[^\"\r\n@]{1,64}\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-](?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]"
    r"{0,62}[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-])?)@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+"
)
ADDRESS_RE = re.compile(ADDRESS)
_BARE_ADDRESS = re.compile(r"(?:\"[^\"]+\"|[^\s<>()\[\],;:\"]+)@[A-Za-z0-9.\-]+")
_TAG = re.compile(r"<[^>]*>")
_ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})


def load(raw: bytes) -> Message | None:
    """Parse bytes into a ``Message``, or ``None`` if even the lenient parser gives up.

    A multipart message whose declared boundary never occurs in its body (MTAs that rewrite
    one and not the other) is parsed again with the delimiter its body actually uses, or, when
    it uses none, as plain text, so that its report is still read.
    """
    try:
        msg = message_from_bytes(raw, policy=compat32)
    except Exception:  # the stdlib parser is lenient, but guard against its rare crashes
        return None
    if msg.get_content_maintype() == "multipart" and not isinstance(msg.get_payload(), list):
        try:
            return _without_broken_boundary(msg, raw)
        except Exception:  # a repair that fails leaves the message as the parser read it
            return msg
    return msg


# A delimiter line "--token"; RFC 2046 limits the token to 70 characters.
_DELIMITER = re.compile(rb"^--([^\s][^\r\n]{0,69}?)[ \t]*\r?$", re.MULTILINE)


def _without_broken_boundary(msg: Message, raw: bytes) -> Message:
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, sep, body = raw.partition(b"\r\n\r\n")
    declared = msg.get_boundary()
    seen: dict[bytes, int] = {}
    for match in _DELIMITER.finditer(body):
        token = match.group(1)
        token = token[:-2] if token.endswith(b"--") else token
        seen[token] = seen.get(token, 0) + 1
        if seen[token] >= 2 and declared and declared.encode() in head:
            # The first delimiter that opens and then closes or repeats is the real one.
            fixed = head.replace(declared.encode(), token.replace(b"\\", b"\\\\"), 1)
            repaired = message_from_bytes(fixed + sep + body, policy=compat32)
            if isinstance(repaired.get_payload(), list):
                return repaired
    # No delimiter at all: the report is the body itself.
    plain = message_from_bytes(raw, policy=compat32)
    del plain["Content-Type"]
    plain["Content-Type"] = "text/plain"
    return plain


def header(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047 to text, with folding removed; empty when absent."""
    try:
        value = msg.get(name)
        if value is None:
            return ""
        if isinstance(value, Header):
            # Raw 8-bit bytes in a header (no encoded-words): almost always UTF-8.
            value = _raw_header_text(value)
        text = str(make_header(decode_header(str(value))))
    except Exception:  # undecodable encoded-words: keep the raw value
        text = str(msg.get(name, ""))
    return " ".join(text.split())


def _raw_header_text(value: Header) -> str:
    chunks = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, bytes):
            name = str(charset) if charset and str(charset) != "unknown-8bit" else "utf-8"
            try:
                chunks.append(chunk.decode(name, errors="replace"))
            except LookupError:
                chunks.append(chunk.decode("utf-8", errors="replace"))
        else:
            chunks.append(chunk)
    return "".join(chunks)


def part_text(part: Message) -> str:
    """The decoded payload of a leaf part as text, whatever its transfer encoding or charset."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if not isinstance(payload, bytes):
        return ""
    charset = _charset(part)
    try:
        text = payload.decode(charset)
    except (LookupError, UnicodeError):
        # A label that lies (UTF-8 sent as "iso-2022-jp"): UTF-8 first, else the label lossily.
        try:
            text = payload.decode("utf-8")
        except UnicodeError:
            try:
                text = payload.decode(charset, errors="replace")
            except (LookupError, UnicodeError):
                text = payload.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        text = html.unescape(_TAG.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _charset(part: Message) -> str:
    try:
        charset = part.get_content_charset() or "us-ascii"
        codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    # Mail labelled us-ascii often carries UTF-8 (or Latin-1); UTF-8 with replacement loses less.
    return "utf-8" if charset in {"us-ascii", "ascii"} else charset


def walk_outer(msg: Message) -> list[Message]:
    """Leaf parts of ``msg`` that belong to the report itself, not to a returned message."""
    return [
        msg if part is None else part
        for part, ctype, depth, multipart, _ in _outline(msg)
        if not multipart and not (depth > 0 and ctype in _ORIGINAL_TYPES)
    ]


def find_parts(msg: Message, content_type: str) -> list[Message]:
    """Every part of the given type outside returned messages (may be multipart or message)."""
    found: list[Message] = []
    nodes = _outline(msg)
    i = 0
    while i < len(nodes):
        part, ctype, _, _, end = nodes[i]
        if ctype == content_type:
            found.append(msg if part is None else part)
            i = end  # not inside a part of the type sought
        else:
            i += 1
    return found


# (part, its content type, depth, whether multipart, where its subtree ends); the root is None
# in its own outline, so that the cache below never keeps a message alive.
_Node = tuple[Message | None, str, int, bool, int]
# The parts of a message, each read once: the parsers ask for them a dozen times per message,
# and every content type costs a scan of the part's headers. Messages are not changed once read.
_OUTLINES: weakref.WeakKeyDictionary[Message, list[_Node]] = weakref.WeakKeyDictionary()


def _outline(msg: Message) -> list[_Node]:
    """Every part of ``msg`` down to 20 levels, in document order, not looking inside a
    returned message (message/rfc822 and the like below the top)."""
    cached = _OUTLINES.get(msg)
    if cached is not None:
        return cached
    nodes: list[_Node] = []

    def visit(part: Message, depth: int) -> None:
        if depth > 20:  # a pathological nesting must not exhaust the stack
            return
        index = len(nodes)
        ctype = part.get_content_type()
        multipart = part.is_multipart()
        nodes.append((part if depth else None, ctype, depth, multipart, 0))
        if multipart and not (depth > 0 and ctype in _ORIGINAL_TYPES):
            payload = part.get_payload()
            if isinstance(payload, list):
                for child in payload:
                    if isinstance(child, Message):
                        visit(child, depth + 1)
        nodes[index] = (*nodes[index][:4], len(nodes))

    visit(msg, 0)
    _OUTLINES[msg] = nodes
    return nodes


def raw_body(part: Message) -> str:
    """The body of a part as text even when the parser split it into sub-messages."""
    payload = part.get_payload()
    if isinstance(payload, list):
        chunks = []
        for sub in payload:
            if isinstance(sub, Message):
                lines = [f"{k}: {v}" for k, v in sub.items()]
                body = sub.get_payload()
                if isinstance(body, str) and body.strip():
                    lines.append(body)
                chunks.append("\n".join(lines))
        return "\n\n".join(chunks)
    return part_text(part)


def original_message(msg: Message) -> Message | None:
    """The returned original message (or its headers), if the report carries it."""
    for ctype in _ORIGINAL_TYPES:
        for part in find_parts(msg, ctype):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            text = part_text(part)
            if text.strip():
                try:
                    return message_from_string(text.lstrip(), policy=compat32)
                except Exception:
                    return None
    return None


def addresses_in(text: str) -> list[str]:
    """Every address in ``text``, in order of appearance, without duplicates."""
    seen: dict[str, None] = {}
    for match in ADDRESS_RE.finditer(text):
        seen.setdefault(match.group(0).strip("."), None)
    return list(seen)


def header_addresses(msg: Message, *names: str) -> list[str]:
    """Addresses found in the named headers."""
    found: list[str] = []
    for name in names:
        for value in msg.get_all(name) or []:
            found.extend(addresses_in(str(value)))
    return found


def normalize_recipient(raw: str) -> str | None:
    """The canonical form of an address found in a report, or ``None`` if it is not one.

    Addresses that ``parse_address`` refuses but that are plainly addresses (a bare host name
    as domain, say) are kept lower-cased, because the report is still about them.
    """
    text = raw.strip().strip("<>").strip().rstrip(".,;:")
    if text.lower().startswith(("rfc822;", "rfc822:")):
        text = text[7:].strip().strip("<>")
    if "@" not in text:
        return None
    try:
        return parse_address(text).canonical
    except InvalidAddress:
        match = _BARE_ADDRESS.search(text)
        return match.group(0).lower() if match else None
