"""Helpers shared by the wire tests: one byte stream fed whole or cut into chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

CHUNK_SIZES = (1, 16, 4096)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def feed_in_chunks(feed: Callable[[bytes], list[T]], data: bytes, size: int) -> list[T]:
    out: list[T] = []
    for chunk in chunks(data, size):
        out.extend(feed(chunk))
    return out
