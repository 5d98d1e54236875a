"""Shared bits of the benchmarks: a throwaway store, generated addresses, and reporting.

Every benchmark measures mailvault and a baseline in the same run and prints the ratio,
because the machines are shared and absolute figures drift from run to run.
"""

from __future__ import annotations

import random
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from vault.addresses import NORMALIZATION_VERSION, parse_address  # noqa: E402
from vault.clock import SystemClock  # noqa: E402
from vault.config import Settings  # noqa: E402
from vault.crypto import Kek, create_keyring  # noqa: E402
from vault.db import make_engine  # noqa: E402
from vault.db.engine import normalize_url  # noqa: E402
from vault.db.migrate import upgrade  # noqa: E402
from vault.store import Vault  # noqa: E402
from vault.suppressions.models import Suppression  # noqa: E402

PASSPHRASE = "benchmark-passphrase-not-secret"


def addresses(count: int, *, seed: int = 7, domains: int = 2000) -> list[str]:
    """Realistic-looking, distinct addresses over a few thousand domains (Zipf-like spread)."""
    rng = random.Random(seed)
    names = [f"{''.join(rng.choices(string.ascii_lowercase, k=8))}.example" for _ in range(domains)]
    weights = [1 / (i + 1) for i in range(domains)]
    chosen = rng.choices(names, weights=weights, k=count)
    alphabet = string.ascii_lowercase + string.digits
    return [
        f"{''.join(rng.choices(alphabet, k=rng.randint(6, 14)))}.{i}@{domain}"
        for i, domain in enumerate(chosen)
    ]


@contextmanager
def throwaway_store(url: str | None = None) -> Iterator[Vault]:
    """A new store in a temporary directory: SQLite unless a URL is given, and on PostgreSQL a
    schema of its own, dropped afterwards (the database may be shared with test runs and other
    branches' migrations)."""
    with (
        tempfile.TemporaryDirectory(prefix="mailvault-bench-") as tmp,
        _fresh_database(url, Path(tmp)) as database,
    ):
        keys = Path(tmp) / "keys"
        create_keyring(
            keys, Kek(passphrase=PASSPHRASE), time_cost=1, memory_cost_kib=8, parallelism=1
        )
        engine = make_engine(database)
        upgrade(engine)
        engine.dispose()
        settings = Settings(database_url=database, keys_dir=keys, kek_passphrase=PASSPHRASE)
        store = Vault.open(settings, clock=SystemClock())
        try:
            yield store
        finally:
            store.close()


@contextmanager
def _fresh_database(url: str | None, tmp: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{tmp}/bench.db"
        return
    url = normalize_url(url)
    if not url.startswith("postgresql"):
        yield url
        return
    schema = f"mv_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fill_suppressions(store: Vault, raw: Sequence[str], *, created: datetime) -> None:
    """Insert global suppression rows directly, in large batches (the CLI audits each batch,
    which is not what a benchmark of checks wants to pay for)."""
    digester = store.keys.suppression
    for start in range(0, len(raw), 20_000):
        rows = []
        for address in raw[start : start + 20_000]:
            keyed = digester.primary(parse_address(address).canonical)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "digest": keyed.digest,
                    "key_id": keyed.key_id,
                    "normalization_version": NORMALIZATION_VERSION,
                    "scope": "global",
                    "reason": "unsubscribe",
                    "source": "bench",
                    "created_at": created,
                    "expires_at": None,
                }
            )
        with store.write() as session:
            session.execute(insert(Suppression), rows)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_of(runs: int, action: Callable[[], object]) -> float:
    return min(timed(action) for _ in range(runs))


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
