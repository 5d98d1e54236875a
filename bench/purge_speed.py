"""Purge of N expired subscriber rows, with single checks running beside it.

    python bench/purge_speed.py [--rows 1000000] [--database-url URL] [--batch 5000]

Prints the purge time (target < 60 s for 1 M rows), the p99 latency of single suppression checks
issued continuously from another thread while the purge runs (target < 20 ms), and, as baselines
from the same run: the same checks on the idle store, and one plain `DELETE` of equally many rows.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import timedelta

from common import addresses, report, throwaway_store, timed
from sqlalchemy import delete, func, select

from vault.addresses import parse_address
from vault.config import Settings
from vault.db.bulk import insert_many
from vault.models import Base
from vault.retention.purge import run_purge
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values
from vault.suppressions.models import SuppressionReason


def fill(store: Vault, raw: list[str]) -> None:
    mailing_list = store.create_list(f"bench-{len(raw)}-{time.monotonic_ns()}")
    then = store.now() - timedelta(days=40)
    table = Base.metadata.tables["subscribers"]
    for start in range(0, len(raw), 10_000):
        rows = []
        for address in raw[start : start + 10_000]:
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


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)


def check_latencies(
    store: Vault, probes: list[str], stop: threading.Event, out: list[float]
) -> None:
    i = 0
    while not stop.is_set():
        start = time.perf_counter()
        store.check([probes[i % len(probes)]])
        out.append(time.perf_counter() - start)
        i += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    raw = addresses(args.rows, seed=11)
    probes = addresses(1000, seed=12)
    with throwaway_store(args.database_url) as store:
        store.suppress(
            [parse_address(p) for p in probes[::3]], reason=SuppressionReason.MANUAL, source="bench"
        )
        idle: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=check_latencies, args=(store, probes, stop, idle))
        thread.start()
        time.sleep(3)
        stop.set()
        thread.join()

        fill(store, raw)
        during: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=check_latencies, args=(store, probes, stop, during))
        config = retention_config(
            Settings(sections={"retention": {"batch_size": args.batch}}), environ={}
        )
        thread.start()
        purge_time = timed(lambda: run_purge(store, config, trigger="bench"))
        stop.set()
        thread.join()
        with store.read() as session:
            left = session.scalar(select(func.count()).select_from(Subscriber))
        assert left == 0, left

        fill(store, raw)
        with store.engine.begin() as connection:
            plain_time = timed(lambda: connection.execute(delete(Subscriber)))
        backend = store.engine.dialect.name
    report(
        f"purge of {args.rows:,} expired subscribers ({backend}, batches of {args.batch})",
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
