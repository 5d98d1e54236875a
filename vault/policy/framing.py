"""What every incremental wire decoder here shares: once the peer breaks the protocol, the
stream stays broken, and the end of the stream is checked for an unfinished frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from vault.policy.errors import ProtocolError

__all__ = ["IncrementalDecoder"]

FrameT = TypeVar("FrameT")


class IncrementalDecoder(ABC, Generic[FrameT]):
    """Turns a byte stream into frames, however the stream is cut into chunks.

    ``feed`` returns the frames completed by the new bytes. After a ``ProtocolError`` the decoder
    stays broken (the connection has to be closed), so every later call raises too: a caller
    that caught the first error cannot resynchronise on bytes of unknown meaning.
    """

    #: Said by ``finish`` when the stream ends inside a frame.
    unfinished_frame = "the stream ended inside a frame"

    def __init__(self) -> None:
        self._failed: str | None = None

    @property
    @abstractmethod
    def in_frame(self) -> bool:
        """True when bytes of an unfinished frame have been received."""

    @abstractmethod
    def _feed(self, data: bytes) -> list[FrameT]:
        """Decode ``data``; raise ``ProtocolError`` on bytes that break the protocol."""

    def feed(self, data: bytes) -> list[FrameT]:
        self._raise_if_failed()
        try:
            return self._feed(data)
        except ProtocolError as exc:
            self._failed = str(exc)
            raise

    def finish(self) -> None:
        """Call at end of stream: raises if the peer stopped in the middle of a frame."""
        self._raise_if_failed()
        if self.in_frame:
            self._failed = self.unfinished_frame
            raise ProtocolError(self._failed)

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise ProtocolError(f"the stream was already broken: {self._failed}")
