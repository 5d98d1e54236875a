"""Suppression check throughput with 1, 2 and 4 live suppression key versions (ratio to 1).

    python bench/keys_check.py [--entries 200000] [--checks 100000]

A check computes the digest under every live suppression key and matches any of them, so its
cost grows with the number of versions until old entries are rehashed on sight and the old
versions retired. The entries stay under version 1 throughout (the worst case: nothing seen
again yet). Measured on the two check paths: batches against the database (`Vault.check`
without its rehash, as `mailvault check ADDRESS...` and the API do) and the in-memory snapshot
(`mailvault check --file`). Half of the checked addresses are suppressed. One core.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from common import addresses, fill_suppressions, report, throwaway_store, timed

from vault.addresses import parse_address
from vault.crypto import Purpose
from vault.keys import services
from vault.suppressions.services import check_many

CHUNK = 5000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--checks", type=int, default=100_000)
    args = parser.parse_args()
    suppressed = addresses(args.entries, seed=11)
    others = addresses(args.checks // 2, seed=12)
    probes = suppressed[: args.checks - len(others)] + others
    canonicals = [parse_address(a).canonical for a in probes]
    expected = args.checks - len(others)

    with throwaway_store() as store:
        now = datetime.now(UTC)
        fill_suppressions(store, suppressed, created=now)

        def database_checks() -> None:
            hits = 0
            with store.read() as session:
                for start in range(0, len(canonicals), CHUNK):
                    results = check_many(
                        session,
                        keys=store.keys,
                        canonicals=canonicals[start : start + CHUNK],
                        list_id=None,
                        now=now,
                    )
                    hits += sum(r.suppressed for r in results)
            assert hits == expected, hits

        snapshot = store.load_snapshot()  # the entries; the live keys are the store's

        def snapshot_checks() -> None:
            hits = sum(a.suppressed for a in store.check_against(snapshot, probes, list_name=None))
            assert hits == expected, hits

        figures: dict[int, tuple[float, float]] = {}
        for versions in (1, 2, 4):
            while len(store.keys.suppression.key_ids) < versions:
                services.rotate(store, purpose=Purpose.SUPPRESSION)
            # Best of three each, interleaved: the machine is shared.
            database = min(timed(database_checks) for _ in range(3))
            in_memory = min(timed(snapshot_checks) for _ in range(3))
            figures[versions] = (database, in_memory)

    base_db, base_snap = figures[1]
    rows = []
    for versions, (database, in_memory) in figures.items():
        rows.append(
            (
                f"{versions} live version(s)",
                f"database {args.checks / database:,.0f} checks/s ({base_db / database:.2f}x)"
                f"   snapshot {args.checks / in_memory:,.0f} checks/s "
                f"({base_snap / in_memory:.2f}x)",
            )
        )
    report(
        f"check of {args.checks:,} addresses against {args.entries:,} entries (ratio to 1 version)",
        rows,
    )


if __name__ == "__main__":
    main()
