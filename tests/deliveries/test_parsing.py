"""Parsing for ingestion in worker processes: the same results, in the same order, as in one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from tests.deliveries.messages import COMPLAINT, CORPORATE_HARD, MAILBOX_FULL, message_for
from vault.deliveries import parsing
from vault.deliveries.parsing import CHUNK_MESSAGES, SMALL_INPUT, parse_in_order
from vault.deliveries.reports import ParsedRaw, parse_raw
from vault.errors import ParserStopped


def messages(count: int) -> list[bytes]:
    """Bounces, complaints, a non-bounce and unreadable input, each recipient different."""
    kinds = [CORPORATE_HARD, MAILBOX_FULL, COMPLAINT]
    found: list[bytes] = []
    for i in range(count):
        if i % 7 == 3:
            found.append(b"not a message at all\n")
        elif i % 11 == 5:
            found.append(b"From: someone@example.net\nSubject: thanks\n\nJust a reply.\n")
        else:
            found.append(message_for(kinds[i % 3], f"person{i}@corp-{i % 5}.example"))
    return found


def test_workers_give_what_one_process_gives_in_the_same_order() -> None:
    raw = messages(SMALL_INPUT + 2 * CHUNK_MESSAGES + 5)
    alone = list(parse_in_order(raw, workers=1))
    assert alone == [parse_raw(one) for one in raw]
    assert list(parse_in_order(iter(raw), workers=2)) == alone
    assert [i for i, p in enumerate(alone) if p.unreadable] == [
        i for i in range(len(raw)) if i % 7 == 3
    ]


class FakePool:
    """A process pool in this process: chunks are parsed at once, except that the worker
    taking chunk number ``dies_at`` (counted from 1) dies, and that ``start`` decides whether
    workers ever start."""

    def __init__(self, *, dies_at: int | None = None, starts: bool = True) -> None:
        self.dies_at = dies_at
        self.starts = starts
        self.chunks = 0

    def __call__(self, *args: Any, **kwargs: Any) -> FakePool:
        return self

    def submit(self, fn: Callable[[list[bytes]], Any], chunk: list[bytes]) -> Future[Any]:
        future: Future[Any] = Future()
        if not chunk:  # the start-up probe
            if self.starts:
                future.set_result([])
            self.probe = future
            return future
        self.chunks += 1
        if self.dies_at is not None and self.chunks >= self.dies_at:
            future.set_exception(BrokenProcessPool("a worker died"))
        else:
            future.set_result(fn(chunk))
        return future

    def shutdown(self, **kwargs: Any) -> None:
        self.probe.cancel()  # as a real pool does with work no worker has started


class StartAtOnce:
    """A thread that has done its work by the time ``start`` returns."""

    def __init__(self, target: Callable[..., object], args: tuple[object, ...], **_: Any) -> None:
        self.target, self.args = target, args

    def start(self) -> None:
        self.target(*self.args)

    def join(self) -> None:
        pass


def test_a_dead_worker_stops_the_run_after_everything_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = FakePool(dies_at=2)
    monkeypatch.setattr(parsing, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(parsing, "Thread", StartAtOnce)
    raw = messages(SMALL_INPUT + 3 * CHUNK_MESSAGES)
    got: list[ParsedRaw] = []
    with pytest.raises(ParserStopped) as stopped:
        got.extend(parse_in_order(raw, workers=2))
    assert stopped.value.position == len(got) + 1
    assert got == [parse_raw(one) for one in raw[: len(got)]]
    assert len(got) == CHUNK_MESSAGES  # the first chunk went to a worker that answered
    assert pool.chunks == 2
    assert f"message {CHUNK_MESSAGES + 1}" in str(stopped.value)


def test_workers_that_never_start_leave_the_parsing_to_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = FakePool(starts=False)
    monkeypatch.setattr(parsing, "ProcessPoolExecutor", pool)
    raw = messages(SMALL_INPUT + 2 * CHUNK_MESSAGES)
    assert list(parse_in_order(raw, workers=2)) == [parse_raw(one) for one in raw]
    assert pool.chunks == 0


def test_small_input_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no process pool for small input")

    monkeypatch.setattr(parsing, "ProcessPoolExecutor", refuse)
    raw = messages(SMALL_INPUT)
    assert list(parse_in_order(raw, workers=4)) == [parse_raw(one) for one in raw]
    assert list(parse_in_order([], workers=4)) == []


def test_default_workers_is_at_least_one_and_at_most_four() -> None:
    assert 1 <= parsing.default_workers() <= 4
