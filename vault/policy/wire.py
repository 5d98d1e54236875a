"""The SMTP access policy delegation protocol (Postfix SMTPD_POLICY_README) as pure code:
an incremental request parser and the response formatter, with no socket in sight.

A request is ``name=value`` lines ended by an empty line; a response is ``action=...`` followed
by an empty line. One connection carries many requests, one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vault.policy.errors import ProtocolError
from vault.policy.framing import IncrementalDecoder

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_LINE_BYTES",
    "PolicyRequest",
    "PolicyRequestParser",
    "format_response",
]

#: Postfix's longest attribute values are a few hundred bytes (addresses, TLS fields);
#: anything longer is a confused or hostile peer, and we refuse it before buffering more.
MAX_LINE_BYTES = 4096
#: Postfix 3.7 sends about 35 attributes; the limit bounds memory per request.
MAX_ATTRIBUTES = 100


@dataclass(frozen=True, slots=True, repr=False)
class PolicyRequest:
    """One policy request: the raw attributes, and the few the decision reads by name.

    Attribute names and values are text; a missing attribute reads as "".
    """

    attributes: Mapping[str, str]

    @property
    def request(self) -> str:
        return self.attributes.get("request", "")

    @property
    def protocol_state(self) -> str:
        return self.attributes.get("protocol_state", "")

    @property
    def recipient(self) -> str:
        return self.attributes.get("recipient", "")

    @property
    def sender(self) -> str:
        return self.attributes.get("sender", "")

    @property
    def queue_id(self) -> str:
        return self.attributes.get("queue_id", "")

    @property
    def sasl_username(self) -> str:
        return self.attributes.get("sasl_username", "")

    @property
    def client_address(self) -> str:
        return self.attributes.get("client_address", "")

    def __repr__(self) -> str:
        # Attributes hold addresses; a repr in a log or traceback must not carry them.
        return (
            f"PolicyRequest(protocol_state={self.protocol_state!r}, "
            f"queue_id={self.queue_id!r}, attributes=<{len(self.attributes)}>)"
        )


class PolicyRequestParser(IncrementalDecoder[PolicyRequest]):
    """Turns a byte stream into requests, however the stream is cut into chunks.

    ``feed`` returns the requests completed by the new bytes. After a ``ProtocolError`` the
    parser stays broken (the connection has to be closed), so every later call raises too.
    """

    unfinished_frame = "the stream ended inside a request (no empty line after it)"

    def __init__(
        self, *, max_line_bytes: int = MAX_LINE_BYTES, max_attributes: int = MAX_ATTRIBUTES
    ) -> None:
        super().__init__()
        self._max_line_bytes = max_line_bytes
        self._max_attributes = max_attributes
        self._buffer = bytearray()
        self._attributes: dict[str, str] = {}
        self._lines_in_request = 0

    @property
    def in_frame(self) -> bool:
        """True when bytes of an unfinished request have been received."""
        return bool(self._buffer) or self._lines_in_request > 0

    def _feed(self, data: bytes) -> list[PolicyRequest]:
        completed: list[PolicyRequest] = []
        if not self._buffer and not self._lines_in_request:
            # At a request boundary, as after every reply to Postfix: whole requests in
            # ``data`` are split in one go; the rest (a partial request, or anything the fast
            # path does not vouch for) goes through the line-by-line parser below.
            data = data[self._whole_requests(data, completed) :]
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if end - start > self._max_line_bytes:
                raise self._too_long()
            line = bytes(buffer[start:end])
            start = end + 1
            if line.endswith(b"\r"):
                # Postfix sends bare LF; people testing by hand with nc or telnet send CRLF.
                line = line[:-1]
            if line:
                self._add_attribute(line)
            else:
                completed.append(PolicyRequest(MappingProxyType(self._attributes)))
                self._attributes = {}
                self._lines_in_request = 0
        del buffer[:start]
        if len(buffer) > self._max_line_bytes:
            # Refuse now rather than buffer an endless line waiting for its newline.
            raise self._too_long()
        return completed

    def _whole_requests(self, data: bytes, completed: list[PolicyRequest]) -> int:
        """Parse the complete, plainly well-formed requests at the start of ``data``; return
        where the first one it leaves to the line parser begins.

        Anything unusual (CR, an empty request, a long line, too many attributes, bad UTF-8, a
        line without a name) is left to ``_feed``'s loop, which accepts or refuses it with the
        same result and message as always: this path only ever makes the common case faster.
        """
        pos = 0
        while True:
            end = data.find(b"\n\n", pos)
            if end <= pos:
                return pos  # no whole request left, or an empty line first
            block = data[pos:end]
            if b"\r" in block or (
                len(block) > self._max_line_bytes
                and max(map(len, block.split(b"\n"))) > self._max_line_bytes
            ):
                return pos
            try:
                lines = block.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                return pos
            if len(lines) > self._max_attributes:
                return pos
            attributes: dict[str, str] = {}
            for line in lines:
                name, sep, value = line.partition("=")
                if not sep or not name:
                    return pos
                attributes[name] = value
            completed.append(PolicyRequest(MappingProxyType(attributes)))
            pos = end + 2

    def _add_attribute(self, line: bytes) -> None:
        self._lines_in_request += 1
        if self._lines_in_request > self._max_attributes:
            raise ProtocolError(f"a request has more than {self._max_attributes} attributes")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(
                f"attribute line {self._lines_in_request} of a request is not valid UTF-8"
            ) from None
        name, sep, value = text.partition("=")
        if not sep:
            raise ProtocolError(f"attribute line {self._lines_in_request} of a request has no '='")
        if not name:
            raise ProtocolError(
                f"attribute line {self._lines_in_request} of a request has an empty name"
            )
        # Postfix never repeats a name; if a peer does, the last value wins, as in Postfix's
        # own attribute readers.
        self._attributes[name] = value

    def _too_long(self) -> ProtocolError:
        return ProtocolError(f"a request line is longer than {self._max_line_bytes} bytes")


def format_response(action: str) -> bytes:
    """The bytes that answer one request with ``action`` (e.g. "DUNNO", "550 5.7.1 ...")."""
    if not action or "\n" in action or "\r" in action:
        # A newline would end the response early and let the rest pass as another one.
        raise ValueError("a policy action must be one non-empty line")
    return b"action=" + action.encode("utf-8") + b"\n\n"
