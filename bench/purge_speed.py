"""Purge of N expired subscriber rows, with single checks running beside it.

    python bench/purge_speed.py [--rows 1000000] [--database-url URL] [--batch 5000]
                                [--checks-from process|thread]

Prints the purge time (target < 60 s for 1 M rows), the p99 latency of single suppression checks
issued back to back from another process (or a thread of the purging one) while the purge runs
(target < 20 ms), and, as baselines from the same run: the same checks on the idle store, and one
plain `DELETE` of equally many rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from common import addresses, report, throwaway_store, timed
from sqlalchemy import ColumnElement, Insert, Table, delete, func, insert, select

from vault.addresses import parse_address
from vault.clock import SystemClock
from vault.config import Settings
from vault.db.bulk import insert_many
from vault.models import Base
from vault.retention.purge import run_purge
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values
from vault.suppressions.models import SuppressionReason

#: Rows sealed one by one; the rest are copies of them made by the database (see ``fill``).
SEALED_ROWS = 20_000


def fill(store: Vault, raw: list[str]) -> None:
    """``len(raw)`` expired (unsubscribed 40 days ago) subscribers on one new list.

    The first ``SEALED_ROWS`` are real sealed rows; the rest are copies made by
    ``INSERT ... SELECT`` with a new id and a new random index digest, so a million rows take
    seconds rather than an hour of sealing. The purge never decrypts, and its cost is the rows
    and index entries it deletes, which the copies have exactly as real rows would (their
    sealed bytes no longer authenticate under the new id, which nothing here reads).
    """
    mailing_list = store.create_list(f"bench-{len(raw)}-{time.monotonic_ns()}")
    then = store.now() - timedelta(days=40)
    table = Base.metadata.tables["subscribers"]
    sealed = raw[:SEALED_ROWS]
    for start in range(0, len(sealed), 10_000):
        rows = []
        for address in sealed[start : start + 10_000]:
            values = subscriber_values(
                keys=store.keys,
                list_id=mailing_list.id,
                address=parse_address(address),
                consent=ConsentMethod.IMPORTED,
                source="bench",
                now=then,
            )
            values["status"] = "unsubscribed"
            rows.append(values)
        with store.write() as session:
            insert_many(session.connection(), table, rows)
    have = len(sealed)
    while have < len(raw):
        copies = min(have, len(raw) - have)
        with store.write() as session:
            session.execute(_copy_rows(store, table, mailing_list.id, copies))
        have += copies


def _copy_rows(store: Vault, table: Table, list_id: uuid.UUID, count: int) -> Insert:
    if store.engine.dialect.name == "postgresql":
        new_id: ColumnElement[object] = func.gen_random_uuid()
        new_digest: ColumnElement[object] = func.sha256(func.uuid_send(func.gen_random_uuid()))
    else:  # SQLite keeps a non-native Uuid as 32 hex digits
        new_id = func.lower(func.hex(func.randomblob(16)))
        new_digest = func.randomblob(32)
    replaced = {"id": new_id, "index_digest": new_digest}
    columns = [c.name for c in table.columns]
    source = (
        select(*[replaced.get(name, table.c[name]) for name in columns])
        .where(table.c.list_id == list_id)
        .limit(count)
    )
    return insert(table).from_select(columns, source)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)


def check_latencies(store: Vault, probes: list[str], stop: Any, out: list[float]) -> None:
    i = 0
    while not stop.is_set():
        start = time.perf_counter()
        store.check([probes[i % len(probes)]])
        out.append(time.perf_counter() - start)
        i += 1


def _checking_process(settings: Settings, probes: list[str], stop: Any, results: Any) -> None:
    store = Vault.open(settings, clock=SystemClock())
    try:
        latencies: list[float] = []
        check_latencies(store, probes, stop, latencies)
        results.send(latencies)
    finally:
        store.close()


@contextmanager
def checks_beside(store: Vault, probes: list[str], *, where: str) -> Iterator[list[float]]:
    """Single checks issued back to back while the body runs: from a thread of this process
    (as the schedule inside `mailvault serve` shares its process with the API), or from another
    process (as `mailvault purge` runs beside the API server). Yields the latencies, filled in
    when the block ends."""
    latencies: list[float] = []
    if where == "thread":
        stop: Any = threading.Event()
        thread = threading.Thread(target=check_latencies, args=(store, probes, stop, latencies))
        thread.start()
        try:
            yield latencies
        finally:
            stop.set()
            thread.join()
        return
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_checking_process, args=(store.settings, probes, stop, send))
    process.start()
    try:
        yield latencies
    finally:
        stop.set()
        latencies.extend(receive.recv())
        process.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--checks-from",
        choices=("process", "thread"),
        default="process",
        help="where the concurrent checks run: another process (default) or a thread of the "
        "purging process, which then shares one interpreter lock with them",
    )
    args = parser.parse_args()
    raw = addresses(args.rows, seed=11)
    probes = addresses(1000, seed=12)
    with throwaway_store(args.database_url) as store:
        store.suppress(
            [parse_address(p) for p in probes[::3]], reason=SuppressionReason.MANUAL, source="bench"
        )
        with checks_beside(store, probes, where=args.checks_from) as idle:
            time.sleep(3)

        fill(store, raw)
        config = retention_config(
            Settings(sections={"retention": {"batch_size": args.batch}}), environ={}
        )
        with checks_beside(store, probes, where=args.checks_from) as during:
            purge_time = timed(lambda: run_purge(store, config, trigger="bench"))
        with store.read() as session:
            left = session.scalar(select(func.count()).select_from(Subscriber))
        assert left == 0, left

        fill(store, raw)
        with store.engine.begin() as connection:
            plain_time = timed(lambda: connection.execute(delete(Subscriber)))
        backend = store.engine.dialect.name
    report(
        f"purge of {args.rows:,} expired subscribers ({backend}, batches of {args.batch}, "
        f"checks from a {args.checks_from})",
        [
            (
                "mailvault purge",
                f"{purge_time:.1f} s ({args.rows / purge_time:,.0f} rows/s; target < 60 s)",
            ),
            (
                "one plain DELETE of the same rows",
                f"{plain_time:.1f} s (ratio {plain_time / purge_time:.2f}x)",
            ),
            (
                "single checks while purging",
                f"p99 {p99(during) * 1000:.1f} ms over {len(during):,} checks (target < 20 ms)",
            ),
            (
                "single checks on the idle store",
                f"p99 {p99(idle) * 1000:.1f} ms over {len(idle):,} checks",
            ),
        ],
    )


if __name__ == "__main__":
    main()
