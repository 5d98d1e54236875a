"""Shared fixtures: a fast test keyring, a migrated database on SQLite and on PostgreSQL, a store.

PostgreSQL runs when MAILVAULT_TEST_POSTGRES_URL is set; each test gets a schema of its own that
is dropped afterwards. In CI (CI=true) an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from vault.clock import FixedClock
from vault.config import Settings
from vault.crypto import Kek, Keyring, create_keyring, open_keyring
from vault.db import make_engine, normalize_url
from vault.db.migrate import upgrade
from vault.store import Vault

REPO = Path(__file__).resolve().parents[1]
TEST_PASSPHRASE = "test-passphrase-for-the-suite"
POSTGRES_URL = os.environ.get("MAILVAULT_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
#: Where the test stores say recipients reach /u/{token} (releases need one).
PUBLIC_URL = "https://lists.example.test"
# Argon2id at its cheapest: the suite opens keyrings hundreds of times; strength is not tested here.
FAST_ARGON2 = {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 1}

_postgres_problem: str | None = None


def _probe_postgres() -> str | None:
    if not POSTGRES_URL:
        return "MAILVAULT_TEST_POSTGRES_URL is not set"
    try:
        engine = create_engine(normalize_url(POSTGRES_URL))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at MAILVAULT_TEST_POSTGRES_URL is unreachable: {type(exc).__name__}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    global _postgres_problem
    _postgres_problem = _probe_postgres()
    if _postgres_problem and IN_CI:
        raise pytest.UsageError(f"CI needs PostgreSQL: {_postgres_problem}")


def pytest_report_header(config: pytest.Config) -> str:
    if _postgres_problem:
        return f"!!! PostgreSQL tests will be SKIPPED: {_postgres_problem} !!!"
    return "PostgreSQL tests: enabled"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_problem:
        terminalreporter.write_sep(
            "!", f"PostgreSQL tests were SKIPPED: {_postgres_problem}", red=True, bold=True
        )


# -- keys ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _keyring_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys_dir = tmp_path_factory.mktemp("keys-template")
    create_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), **FAST_ARGON2)
    return keys_dir


@pytest.fixture
def keys_dir(_keyring_template: Path, tmp_path: Path) -> Path:
    """A private copy of the test keyring, so a test may rotate or retire keys."""
    target = tmp_path / "keys"
    shutil.copytree(_keyring_template, target)
    return target


@pytest.fixture
def keyring(keys_dir: Path) -> Keyring:
    return open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)


# -- databases -----------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database; SQLite in a temporary file, PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    if _postgres_problem or POSTGRES_URL is None:
        pytest.skip(f"PostgreSQL: {_postgres_problem}")
    schema = f"mv_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{normalize_url(POSTGRES_URL)}{separator}options={quote(f'-csearch_path={schema}')}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(database_url: str, keys_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        keys_dir=keys_dir,
        kek_passphrase=TEST_PASSPHRASE,
        public_url=PUBLIC_URL,
    )


@pytest.fixture
def store(settings: Settings, clock: FixedClock) -> Iterator[Vault]:
    vault = Vault.open(settings, clock=clock)
    try:
        yield vault
    finally:
        vault.close()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the ``mailvault`` command against the test store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    env.update(
        MAILVAULT_DATABASE_URL=settings.database_url,
        MAILVAULT_KEYS_DIR=str(settings.keys_dir),
        MAILVAULT_KEK_PASSPHRASE=TEST_PASSPHRASE,
        MAILVAULT_PUBLIC_URL=PUBLIC_URL,
        COLUMNS="200",
    )
    return env


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged, at every level, including SQLAlchemy's statements and parameters:
    what the canary tests search."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
