"""Netstrings (``<length>:<bytes>,``), the framing of Postfix's socketmap protocol, as pure code:
an encoder and an incremental decoder with a length limit.
"""

from __future__ import annotations

from vault.policy.errors import ProtocolError
from vault.policy.framing import IncrementalDecoder

__all__ = ["DEFAULT_MAX_LENGTH", "NetstringDecoder", "encode"]

DEFAULT_MAX_LENGTH = 65536


def encode(payload: bytes) -> bytes:
    """One netstring holding ``payload``."""
    return b"%d:%b," % (len(payload), payload)


class NetstringDecoder(IncrementalDecoder[bytes]):
    """Turns a byte stream into netstring payloads, however the stream is cut into chunks.

    A length over ``max_length`` is refused as soon as its digits are seen, before any payload
    is buffered. After a ``ProtocolError`` the decoder stays broken, so every later call raises.
    """

    unfinished_frame = "the stream ended inside a netstring"

    def __init__(self, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 0:
            raise ValueError("max_length must not be negative")
        super().__init__()
        self._max_length = max_length
        self._max_digits = len(str(max_length))
        self._buffer = bytearray()
        self._length: int | None = None  # known once the colon has been read

    @property
    def in_frame(self) -> bool:
        """True when bytes of an unfinished netstring have been received."""
        return bool(self._buffer) or self._length is not None

    def _feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        payloads: list[bytes] = []
        pos = 0
        while True:
            if self._length is None:
                # The colon must come within max_digits + 1 bytes, so never scan further.
                window_end = pos + self._max_digits + 1
                colon = buffer.find(b":", pos, window_end)
                if colon < 0:
                    self._check_length_digits(buffer[pos:window_end], complete=False)
                    break
                self._length = self._check_length_digits(buffer[pos:colon], complete=True)
                pos = colon + 1
            end = pos + self._length
            if len(buffer) <= end:
                break  # payload or its comma still to come
            if buffer[end] != ord(","):
                raise ProtocolError("a netstring does not end with ','")
            payloads.append(bytes(buffer[pos:end]))
            pos = end + 1
            self._length = None
        del buffer[:pos]
        return payloads

    def _check_length_digits(self, digits: bytearray, *, complete: bool) -> int:
        if not digits.isdigit():
            if complete and not digits:
                raise ProtocolError("a netstring has no length before ':'")
            if digits:
                raise ProtocolError("a netstring length has a character that is not a digit")
        if len(digits) > 1 and digits[0] == ord("0"):
            raise ProtocolError("a netstring length has a leading zero")
        if len(digits) > self._max_digits:
            raise ProtocolError(f"a netstring is longer than {self._max_length} bytes")
        length = int(digits) if digits else 0
        if length > self._max_length:
            raise ProtocolError(f"a netstring is longer than {self._max_length} bytes")
        return length
