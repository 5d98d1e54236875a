"""Rewrap of N subscribers after rotating the address and index keys, vs the same batched
read-and-rewrite of every row without cryptography.

    python bench/keys_rewrap.py [--rows 1000000] [--batch N] [--purpose P] [--database-url URL]

The rewrap decrypts every local part, re-encrypts it under the new address key, recomputes the
index digest under the new index key and writes the row back, one transaction per batch
(`mailvault keys rewrap`). The baseline walks the same rows in the same batches and writes
random bytes of the same sizes: the database's share of the cost. Target: >= 50,000 rows/s on
SQLite.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from common import addresses, report, throwaway_store, timed
from sqlalchemy import literal, select

from vault.addresses import parse_address
from vault.crypto import Purpose
from vault.db.bulk import insert_many
from vault.db.engine import WRITE_OPTION
from vault.keys import services
from vault.keys.rewrap import _RAW, DEFAULT_BATCH, _Dialect, _execute_batch
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values

TARGET = 50_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--purpose", choices=["address", "index", "both"], default="both", help="What to rotate."
    )
    args = parser.parse_args()
    raw = addresses(args.rows, seed=3)

    with throwaway_store(args.database_url) as store:
        mailing_list = store.create_list("bench")
        now = datetime.now(UTC)

        def load() -> None:
            for start in range(0, len(raw), 20_000):
                rows = [
                    subscriber_values(
                        keys=store.keys,
                        list_id=mailing_list.id,
                        address=parse_address(a),
                        consent=ConsentMethod.IMPORTED,
                        source="bench",
                        now=now,
                    )
                    for a in raw[start : start + 20_000]
                ]
                with store.write() as session:
                    insert_many(session.connection(), Subscriber.__table__, rows)  # type: ignore[arg-type]

        load_time = timed(load)
        purposes = (
            {Purpose.ADDRESS, Purpose.INDEX} if args.purpose == "both" else {Purpose(args.purpose)}
        )
        for purpose in sorted(purposes):
            services.rotate(store, purpose=purpose)
        pending = services.rewrap_plan(store).pending
        assert pending == args.rows, pending
        result = None

        def run_rewrap() -> None:
            nonlocal result
            result = services.rewrap(store, purposes=purposes, batch=args.batch)

        rewrap_time = timed(run_rewrap)
        assert result is not None and result.rows == args.rows, result
        assert services.rewrap_plan(store).pending == 0

        def baseline() -> None:
            # The rewrap's own connection handling, statements and driver path, with random
            # bytes for the cryptography.
            dialect = _Dialect(store.engine.dialect.name)
            last = None
            bind = store.engine.execution_options(**{WRITE_OPTION: True})
            with bind.connect() as connection:
                dialect.prepare(connection)
                try:
                    while True:
                        with connection.begin():
                            statement = select(*dialect.columns)
                            if last is not None:
                                statement = statement.where(dialect.order > literal(last, _RAW))
                            rows = connection.execute(
                                statement.order_by(dialect.order).limit(args.batch)
                            ).all()
                            if not rows:
                                return
                            last = rows[-1][0]
                            params = [
                                (
                                    os.urandom(len(old)) if Purpose.ADDRESS in purposes else old,
                                    akid,
                                    os.urandom(32) if Purpose.INDEX in purposes else digest,
                                    ikid,
                                    handle,
                                    old,
                                )
                                for handle, _, _, _, old, akid, digest, ikid in rows
                            ]
                            _execute_batch(connection, dialect, params)
                finally:
                    dialect.release(connection)

        baseline_time = timed(baseline)

    rewrap_rate = args.rows / rewrap_time
    baseline_rate = args.rows / baseline_time
    report(
        f"rewrap of {args.rows:,} subscribers ({args.purpose} keys), batches of {args.batch}",
        [
            ("baseline: same batches, no cryptography", f"{baseline_rate:,.0f} rows/s"),
            ("mailvault keys rewrap", f"{rewrap_rate:,.0f} rows/s ({rewrap_time:.1f} s)"),
            ("ratio to baseline", f"{rewrap_rate / baseline_rate:.2f}x"),
            (f"ratio to target ({TARGET:,} rows/s)", f"{rewrap_rate / TARGET:.2f}x"),
            ("(loading subscribers)", f"{load_time:.1f} s"),
        ],
    )


if __name__ == "__main__":
    main()
