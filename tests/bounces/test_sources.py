"""Reading messages from files, mboxes, Maildirs and streams."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vault.bounces import iter_messages
from vault.errors import InputError

_ONE = b"From: a@example.org\nSubject: one\n\nbody one\n"
_TWO = b"From: b@example.org\nSubject: two\n\nFrom the start, a body line.\n"


def test_single_message_file(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(_ONE)
    assert list(iter_messages(path)) == [_ONE]


def test_mbox_is_split_and_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    path.write_bytes(
        b"From MAILER-DAEMON Thu Apr 29 23:34:45 2010\n"
        + _ONE
        + b"\nFrom MAILER-DAEMON Thu Apr 29 23:34:46 2010\n"
        + _TWO.replace(b"\nFrom the", b"\n>From the")
    )
    assert list(iter_messages(path)) == [_ONE, _TWO]


def test_mbox_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.mbox"
    with path.open("wb") as handle:
        for n in range(10_000):
            handle.write(b"From x Thu Apr 29 23:34:45 2010\nSubject: %d\n\nbody\n\n" % n)
    messages = iter_messages(path)
    first = next(messages)
    assert first.startswith(b"Subject: 0\n")
    assert sum(1 for _ in messages) == 9_999


def test_maildir(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "1.host").write_bytes(_ONE)
    (tmp_path / "cur" / "2.host:2,S").write_bytes(_TWO)
    (tmp_path / "tmp" / "3.host").write_bytes(b"half written")
    assert sorted(iter_messages(tmp_path)) == sorted([_ONE, _TWO])


def test_stream() -> None:
    assert list(iter_messages(io.BytesIO(_ONE))) == [_ONE]


def test_missing_path_and_non_maildir_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        list(iter_messages(tmp_path / "absent.mbox"))
    with pytest.raises(InputError):
        list(iter_messages(tmp_path))


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert list(iter_messages(path)) == []
