"""Shared set-up for the HTTP API benchmarks: a throwaway store, principals, and uvicorn servers
started the way ``mailvault serve`` starts them (same log config, access log on)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vault.addresses import parse_address  # noqa: E402
from vault.cli.principals import create_principal  # noqa: E402
from vault.config import Settings  # noqa: E402
from vault.crypto import Kek, create_keyring  # noqa: E402
from vault.db import make_engine  # noqa: E402
from vault.db.migrate import upgrade  # noqa: E402
from vault.principals.permissions import Role  # noqa: E402
from vault.store import Vault  # noqa: E402
from vault.subscribers.models import ConsentMethod, Subscriber  # noqa: E402
from vault.subscribers.services import subscriber_values  # noqa: E402
from vault.suppressions.models import SuppressionReason  # noqa: E402

PASSPHRASE = "benchmark-passphrase-not-secret"
PUBLIC_URL = "https://lists.example.test"


def make_store(directory: Path) -> Settings:
    create_keyring(
        directory / "keys",
        Kek(passphrase=PASSPHRASE),
        time_cost=1,
        memory_cost_kib=8,
        parallelism=1,
    )
    url = f"sqlite:///{directory / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, keys_dir=directory / "keys", kek_passphrase=PASSPHRASE)


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    env.update(
        MAILVAULT_DATABASE_URL=settings.database_url,
        MAILVAULT_KEYS_DIR=str(settings.keys_dir),
        MAILVAULT_KEK_PASSPHRASE=PASSPHRASE,
        MAILVAULT_PUBLIC_URL=PUBLIC_URL,
        PYTHONPATH=str(ROOT),
    )
    return env


def token(store: Vault, role: Role) -> str:
    return create_principal(store, name=f"bench-{role}", roles=[role])[1]


def suppress_many(
    store: Vault, addresses: list[str], reason: SuppressionReason = SuppressionReason.HARD_BOUNCE
) -> None:
    for start in range(0, len(addresses), 5000):
        chunk = [parse_address(a) for a in addresses[start : start + 5000]]
        store.suppress(chunk, reason=reason, source="bench")


def add_subscribers(store: Vault, list_name: str, addresses: list[str]) -> None:
    """Bulk insert (the importer's work without its CSV and resume bookkeeping)."""
    mailing_list = store.get_list(list_name)
    now = store.now()
    for start in range(0, len(addresses), 5000):
        rows = [
            subscriber_values(
                keys=store.keys,
                list_id=mailing_list.id,
                address=parse_address(raw),
                consent=ConsentMethod.DOUBLE_OPT_IN,
                source="bench",
                now=now,
            )
            for raw in addresses[start : start + 5000]
        ]
        with store.write() as session:
            session.execute(insert(Subscriber), rows)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(argv: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run a server command (``{port}`` in argv is replaced); yields its base URL."""
    with server_process(argv, env) as (base, _process):
        yield base


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User and system CPU time a running child has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server_process(
    argv: list[str], env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``server``, yielding the process too (for ``cpu_seconds``)."""
    port = free_port()
    process = subprocess.Popen(
        [a.replace("{port}", str(port)) for a in argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {argv} did not start") from None
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="mailvault-bench-")
