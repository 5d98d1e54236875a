"""Postfix's socketmap lookup protocol (socketmap_table(5)) as pure code: the request
``name <space> key`` and the replies ``OK data``, ``NOTFOUND ``, ``TEMP``/``PERM reason``.

Each request and reply travels as one netstring (``vault.policy.netstring``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vault.policy import netstring
from vault.policy.errors import ProtocolError

__all__ = [
    "MAX_REPLY_CHARS",
    "MAX_REQUEST_BYTES",
    "SocketmapRequest",
    "SocketmapStatus",
    "format_socketmap_reply",
    "parse_socketmap_request",
    "socketmap_reply",
]

#: A map name and an address fit in far less; a longer netstring is refused unread.
MAX_REQUEST_BYTES = 4096
#: Postfix's socketmap client refuses longer replies (socketmap_table(5)).
MAX_REPLY_CHARS = 100_000


class SocketmapStatus(StrEnum):
    OK = "OK"
    NOTFOUND = "NOTFOUND"
    TEMP = "TEMP"
    TIMEOUT = "TIMEOUT"
    PERM = "PERM"


@dataclass(frozen=True, slots=True, repr=False)
class SocketmapRequest:
    """One lookup: the map name (what the server is asked) and the key (here, an address)."""

    name: str
    key: str

    def __repr__(self) -> str:
        # The key is an address: keep it out of logs and tracebacks.
        return f"SocketmapRequest(name={self.name!r}, key=<{len(self.key)} chars>)"


def parse_socketmap_request(payload: bytes) -> SocketmapRequest:
    """Split one netstring payload into map name and key, or raise ``ProtocolError``."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a socketmap request is not valid UTF-8") from None
    name, sep, key = text.partition(" ")
    if not sep or not name:
        raise ProtocolError("a socketmap request is not 'name key'")
    return SocketmapRequest(name=name, key=key)


def socketmap_reply(status: SocketmapStatus, text: str = "") -> str:
    """The reply text; NOTFOUND keeps its trailing space, as the protocol spells it."""
    if status is SocketmapStatus.NOTFOUND and text:
        raise ValueError("a NOTFOUND reply carries no text")
    return f"{status.value} {text}"


def format_socketmap_reply(reply: str) -> bytes:
    """The netstring that carries ``reply`` (from ``socketmap_reply``)."""
    if len(reply) > MAX_REPLY_CHARS:
        raise ValueError(f"a socketmap reply must not exceed {MAX_REPLY_CHARS} characters")
    return netstring.encode(reply.encode("utf-8"))
