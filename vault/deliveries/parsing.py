"""Parsing a stream of raw messages for ingestion, here or in worker processes, in input order.

Workers get raw bytes and give back parse results (pure data): they hold no keys and no
database connection, and say nothing; the caller stores each result as if it had parsed it.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import sys
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from threading import Thread

from vault.deliveries.reports import ParsedRaw, parse_raw
from vault.errors import ParserStopped

#: A chunk of messages goes to a worker at once (one pickled list each way): big enough that
#: the hand-over costs little per message, small enough that every worker gets one early.
CHUNK_MESSAGES = 64
CHUNK_BYTES = 4 * 1024 * 1024
#: Input of at most this many messages is parsed here: the workers would start (a second or
#: more) only to find the work done.
SMALL_INPUT = 256
#: Chunks given to each worker at a time: enough to keep it busy while the caller stores a batch.
IN_FLIGHT = 4
#: Messages read ahead of the caller, parsed or waiting for a worker; bounds the memory a run
#: takes while the workers start (or fall behind), whatever the size of the mailbox.
READ_AHEAD = 4096


def default_workers() -> int:
    """One worker per CPU this process may use, at most 4: four parse about as many messages
    a second as the store side can apply (BENCHMARKS.md, "Bounce ingestion")."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 4))


def parse_in_order(messages: Iterable[bytes], *, workers: int = 1) -> Iterator[ParsedRaw]:
    """``parse_raw`` of every message, in input order.

    With ``workers`` above 1, and more than ``SMALL_INPUT`` messages, chunks of messages are
    parsed in that many worker processes; this process reads the input, hands chunks out and,
    while every worker is busy (or still starting), parses the next chunk itself. A single
    message, as a Postfix pipe gives it, never waits for a process to start.
    """
    if workers <= 1:
        yield from map(parse_raw, messages)
        return
    chunks = _chunks(messages)
    head: list[list[bytes]] = []
    for chunk in chunks:
        head.append(chunk)
        if sum(map(len, head)) > SMALL_INPUT:
            break
    else:
        yield from (parse_raw(raw) for chunk in head for raw in chunk)
        return
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_quiet)
    # A worker takes a second or more to start (it imports mailvault): a thread waits for the
    # first answer, while this one parses every chunk itself until then.
    started: list[bool] = []
    starter = Thread(target=_start, args=(pool, started), daemon=True)
    starter.start()
    try:
        yield from _ordered(pool, itertools.chain(head, chunks), started, workers=workers)
    finally:
        # Also on an early exit (the store failed, ^C): drop what no worker has started.
        pool.shutdown(wait=True, cancel_futures=True)
        starter.join()


# A chunk's results, or the worker's promise of them; with the position of its first message.
_Pending = tuple[int, "Future[list[ParsedRaw]] | list[ParsedRaw]", int]


def _start(pool: ProcessPoolExecutor, started: list[bool]) -> None:
    """Say (in ``started``) when a worker has answered; say nothing if none can start, and
    this process then parses everything itself."""
    try:
        pool.submit(_parse_chunk, []).result()
    except Exception:  # a pool that cannot start (or was shut down first) is not used
        return
    started.append(True)


def _ordered(
    pool: ProcessPoolExecutor,
    chunks: Iterator[list[bytes]],
    started: list[bool],
    *,
    workers: int,
) -> Iterator[ParsedRaw]:
    pending: deque[_Pending] = deque()
    position = 1  # of the next message read
    ahead = 0  # messages in ``pending``
    for chunk in chunks:
        in_pool = sum(1 for _, w, _ in pending if isinstance(w, Future) and not w.done())
        work: Future[list[ParsedRaw]] | list[ParsedRaw]
        if started and in_pool < IN_FLIGHT * workers:
            try:
                work = pool.submit(_parse_chunk, chunk)
            except BrokenProcessPool as exc:  # said in order, after what was parsed before it
                work = Future()
                work.set_exception(exc)
        else:
            work = _parse_chunk(chunk)  # every worker is busy: help rather than wait
        pending.append((position, work, len(chunk)))
        position += len(chunk)
        ahead += len(chunk)
        while pending and (ahead > READ_AHEAD or _ready(pending[0][1])):
            ahead -= pending[0][2]
            yield from _results(pending.popleft())
    while pending:
        yield from _results(pending.popleft())


def _ready(work: Future[list[ParsedRaw]] | list[ParsedRaw]) -> bool:
    return not isinstance(work, Future) or work.done()


def _results(item: _Pending) -> list[ParsedRaw]:
    position, work, _ = item
    if isinstance(work, list):
        return work
    try:
        return work.result()
    except BrokenProcessPool:
        raise ParserStopped(position) from None


def _parse_chunk(chunk: list[bytes]) -> list[ParsedRaw]:
    return [parse_raw(raw) for raw in chunk]


def _chunks(messages: Iterable[bytes]) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for raw in messages:
        chunk.append(raw)
        size += len(raw)
        if len(chunk) >= CHUNK_MESSAGES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _context() -> multiprocessing.context.BaseContext:
    # Not fork: the parent may hold threads (a progress bar), database connections and keys,
    # none of which a worker should inherit. A fork server starts one clean interpreter that
    # imports the parser once, then forks each worker from it in a few milliseconds.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # The default preload (the main module, which forked workers import again anyway) and
        # this one, so that no worker imports mailvault on its own.
        context.set_forkserver_preload(["__main__", __name__])
        return context
    return multiprocessing.get_context("spawn")


def _quiet() -> None:
    """A worker reads addresses and has nothing to tell anyone but its parent: no log, no
    warning, no traceback reaches a terminal or a log file from it. ^C is the parent's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the worker's lifetime
