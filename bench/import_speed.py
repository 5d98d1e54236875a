"""Import of N generated rows: encrypted import vs a plain-address insert into the same database.

    python bench/import_speed.py [--rows 200000] [--database-url URL]

Both sides read the same CSV file and insert in batches of 2000 in one transaction per batch;
the baseline stores the address in clear with its domain (what a sender without mailvault does).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from common import addresses, report, throwaway_store, timed
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, insert

from vault.subscribers.models import ConsentMethod

BATCH = 5000


def plain_insert(store, path: Path) -> int:
    metadata = MetaData()
    table = Table(
        "plain_subscribers",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("list_name", String(100)),
        Column("address", String(320), unique=True),
        Column("domain", String(255), index=True),
        Column("status", String(20)),
        Column("created_at", DateTime(timezone=True)),
    )
    metadata.create_all(store.engine)
    now = datetime.now(UTC)
    count = 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        batch: list[dict[str, object]] = []
        for row in reader:
            address = row["email"].strip().lower()
            batch.append(
                {
                    "id": uuid.uuid4(),
                    "list_name": "bench",
                    "address": address,
                    "domain": address.rpartition("@")[2],
                    "status": "subscribed",
                    "created_at": now,
                }
            )
            if len(batch) == BATCH:
                with store.engine.begin() as connection:
                    connection.execute(insert(table), batch)
                count += len(batch)
                batch = []
        if batch:
            with store.engine.begin() as connection:
                connection.execute(insert(table), batch)
            count += len(batch)
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    rows = addresses(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "first_name"])
            writer.writerows([address, "x"] for address in rows)
        with throwaway_store(args.database_url) as store:
            plain = timed(lambda: plain_insert(store, path))
        with throwaway_store(args.database_url) as store:
            store.create_list("bench")
            summary = None

            def encrypted() -> None:
                nonlocal summary
                summary = store.import_csv(
                    path,
                    list_name="bench",
                    consent=ConsentMethod.IMPORTED,
                    source="bench",
                    batch_size=BATCH,
                )

            sealed = timed(encrypted)
            backend = store.engine.dialect.name
    assert summary is not None and summary.imported == args.rows, summary
    report(
        f"import of {args.rows:,} rows ({backend})",
        [
            ("plain-address insert", f"{args.rows / plain:,.0f} rows/s"),
            ("mailvault encrypted import", f"{args.rows / sealed:,.0f} rows/s"),
            ("ratio (target >= 0.6)", f"{plain / sealed:.2f}x"),
        ],
    )


if __name__ == "__main__":
    main()
