"""Batch suppression check of N addresses against N entries vs an unkeyed SHA-256 set lookup.

    python bench/check_speed.py [--entries 1000000] [--checks 1000000] [--rounds 3]

Both sides parse and normalize every address the same way (``canonical_address``, what the
check path uses); mailvault then computes the HMAC-SHA256 under every live suppression key,
looks it up in its in-memory snapshot and yields one answer per address (the path of
`mailvault check --file`); the baseline hashes with plain SHA-256 into a Python set and counts.
Half of the checked addresses are suppressed. One core. Rounds alternate the two sides; the
ratio is of the best round of each, and every round's own ratio is printed too.
"""

from __future__ import annotations

import argparse
import hashlib
from datetime import UTC, datetime

from common import addresses, fill_suppressions, report, throwaway_store, timed

from vault.addresses import canonical_address


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    suppressed = addresses(args.entries, seed=1)
    others = addresses(args.checks // 2, seed=2)
    probes = suppressed[: args.checks - len(others)] + others

    with throwaway_store() as store:
        now = datetime.now(UTC)

        def load() -> None:
            fill_suppressions(store, suppressed, created=now)

        load_time = timed(load)
        snapshot = None

        def snap() -> None:
            nonlocal snapshot
            snapshot = store.load_snapshot()

        snapshot_time = timed(snap)
        assert snapshot is not None
        hits = 0

        def keyed_checks() -> None:
            nonlocal hits
            hits = sum(
                1 for a in store.check_against(snapshot, probes, list_name=None) if a.suppressed
            )

        baseline_set = {hashlib.sha256(canonical_address(a).encode()).digest() for a in suppressed}
        plain_hits = 0

        def plain_checks() -> None:
            nonlocal plain_hits
            sha = hashlib.sha256
            count = 0
            for raw in probes:
                if sha(canonical_address(raw).encode()).digest() in baseline_set:
                    count += 1
            plain_hits = count

        # Interleaved, best of N each: the machine is shared.
        keyed_best = plain_best = float("inf")
        rounds = []
        for _ in range(args.rounds):
            plain = timed(plain_checks)
            keyed = timed(keyed_checks)
            rounds.append(plain / keyed)
            plain_best, keyed_best = min(plain_best, plain), min(keyed_best, keyed)
    assert hits == plain_hits == args.checks - len(others), (hits, plain_hits)
    report(
        f"batch check of {args.checks:,} addresses against {args.entries:,} entries",
        [
            ("unkeyed SHA-256 set lookup", f"{args.checks / plain_best:,.0f} checks/s"),
            ("mailvault keyed check (snapshot)", f"{args.checks / keyed_best:,.0f} checks/s"),
            ("ratio (target >= 0.8)", f"{plain_best / keyed_best:.2f}x"),
            ("ratio in each round", ", ".join(f"{r:.2f}x" for r in rounds)),
            (
                "snapshot load",
                f"{snapshot_time:.2f} s for {len(snapshot):,} entries, "
                f"{snapshot.memory_bytes / 1e6:.0f} MB table",
            ),
            ("(loading entries into SQLite)", f"{load_time:.1f} s"),
        ],
    )


if __name__ == "__main__":
    main()
