"""Reading many raw messages: one message file, an mbox (``From `` separated) or a Maildir.

Streaming: an mbox is read line by line, so a mailbox of any size costs one message of memory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vault.errors import InputError

_FROM_LINE = re.compile(rb"^From \S*.*\d{4}\s*$|^From \S+ ")
# mboxrd escapes body lines that start with "From " as ">From "; undo one level.
_QUOTED_FROM = re.compile(rb"^>(>*From )")


def iter_messages(source: str | Path | BinaryIO) -> Iterator[bytes]:
    """Yield each message's raw bytes from a path (file, mbox or Maildir) or a binary stream.

    ``"-"`` reads standard input. A file whose first line is an mbox ``From `` line is read as
    an mbox; any other file is one message. A missing path raises ``InputError``.
    """
    if isinstance(source, str) and source == "-":
        yield from _from_stream(sys.stdin.buffer)
        return
    if not isinstance(source, (str, Path)):
        yield from _from_stream(source)
        return
    path = Path(source)
    if path.is_dir():
        yield from _from_maildir(path)
        return
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read messages from {path.name}: {exc.strerror}") from None
    with stream:
        yield from _from_stream(stream)


def _from_stream(stream: BinaryIO) -> Iterator[bytes]:
    first = stream.readline()
    if not first:
        return
    if not first.startswith(b"From "):
        yield first + stream.read()
        return
    yield from _split_mbox(stream)


def _split_mbox(stream: BinaryIO) -> Iterator[bytes]:
    lines: list[bytes] = []
    previous_blank = True
    for line in stream:
        if line.startswith(b"From ") and previous_blank and _FROM_LINE.match(line):
            if lines:
                yield _finish(lines)
            lines = []
            previous_blank = False
            continue
        # Only a line that starts with ">" can be a quoted "From " line; most lines are not,
        # and the test is far cheaper than the substitution.
        lines.append(_QUOTED_FROM.sub(rb"\1", line) if line.startswith(b">") else line)
        previous_blank = not line.strip()
    if lines:
        yield _finish(lines)


def _finish(lines: list[bytes]) -> bytes:
    # The blank line before the next "From " separator belongs to the mbox, not the message.
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    return b"".join(lines)


def _from_maildir(path: Path) -> Iterator[bytes]:
    folders = [path / "new", path / "cur"]
    if not any(folder.is_dir() for folder in folders):
        raise InputError(f"{path.name} is a folder but not a Maildir (no cur/ or new/)")
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                try:
                    yield entry.read_bytes()
                except OSError as exc:
                    raise InputError(f"cannot read {entry.name}: {exc.strerror}") from None
