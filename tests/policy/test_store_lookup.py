"""StoreLookup over a real store (SQLite and PostgreSQL): scopes and reasons as the database path
answers them, new entries from another writer after one refresh, late commits within the
overlap, removals at the next rebuild, staleness turning into StoreUnavailable and back, the
keyring hook, and the memory bound."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from vault.addresses import parse_address
from vault.clock import FixedClock
from vault.config import Settings
from vault.crypto import KeySuite
from vault.crypto.keyring import Purpose
from vault.db import make_engine
from vault.db.migrate import upgrade
from vault.policy.lookup import NOT_SUPPRESSED, LookupResult, StoreUnavailable
from vault.policy.store_lookup import StoreLookup, lookup_engine
from vault.store import Vault, open_keyring_from_settings
from vault.suppressions import services as suppressions
from vault.suppressions.models import SuppressionReason
from vault.suppressions.snapshot import SuppressionSnapshot

from ..canary import CANARY, CANARY_LOCAL
from ..conftest import TEST_PASSPHRASE

SUPPRESSED_UNSUB = LookupResult(suppressed=True, reason="unsubscribe")


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def canonical(address: str) -> str:
    return parse_address(address).canonical


def suppress(
    store: Vault,
    address: str,
    reason: SuppressionReason = SuppressionReason.UNSUBSCRIBE,
    *,
    list_name: str | None = None,
    expires_in: timedelta | None = None,
) -> None:
    store.suppress(
        [parse_address(address)],
        reason=reason,
        source="test",
        list_name=list_name,
        expires_at=None if expires_in is None else store.now() + expires_in,
    )


@pytest.fixture
def writer(settings: Settings, clock: FixedClock) -> Iterator[Vault]:
    """Another process writing to the same database, with a clock of its own."""
    other = Vault.open(settings, clock=FixedClock(clock.now()))
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def lookup(store: Vault, monotonic: FakeMonotonic) -> StoreLookup:
    return StoreLookup(store, max_staleness=5.0, monotonic=monotonic)


def test_not_loaded_is_unavailable_never_not_suppressed(lookup: StoreLookup) -> None:
    with pytest.raises(StoreUnavailable):
        lookup.lookup("a@example.org", scope=None)


def test_scopes_and_the_weightiest_reason(store: Vault, lookup: StoreLookup) -> None:
    store.create_list("news")
    store.create_list("offers")
    suppress(store, "global@example.org")
    suppress(store, "Listed@Example.org", SuppressionReason.COMPLAINT, list_name="news")
    suppress(store, "both@example.org", SuppressionReason.MANUAL)
    suppress(store, "both@example.org", SuppressionReason.COMPLAINT, list_name="news")
    lookup.rebuild()

    assert lookup.lookup(canonical("global@example.org"), scope=None) == SUPPRESSED_UNSUB
    assert lookup.lookup(canonical("global@example.org"), scope="news") == SUPPRESSED_UNSUB
    assert lookup.lookup(canonical("listed@example.org"), scope=None) == NOT_SUPPRESSED
    assert lookup.lookup(canonical("listed@example.org"), scope="offers") == NOT_SUPPRESSED
    assert lookup.lookup(canonical("listed@example.org"), scope="news").reason == "complaint"
    assert lookup.lookup(canonical("both@example.org"), scope=None).reason == "manual"
    assert lookup.lookup(canonical("both@example.org"), scope="news").reason == "complaint"
    assert lookup.lookup(canonical("nobody@example.org"), scope="news") == NOT_SUPPRESSED


def test_a_list_that_does_not_exist_means_global_entries_only(
    store: Vault, lookup: StoreLookup, caplog: pytest.LogCaptureFixture
) -> None:
    suppress(store, "global@example.org")
    lookup.rebuild()
    assert lookup.lookup(canonical("global@example.org"), scope="typo") == SUPPRESSED_UNSUB
    assert lookup.lookup(canonical("other@example.org"), scope="typo") == NOT_SUPPRESSED
    assert caplog.text.count("'typo' names no list") == 1


def test_another_writers_suppression_arrives_with_the_next_refresh(
    store: Vault, writer: Vault, lookup: StoreLookup
) -> None:
    lookup.rebuild()
    writer.create_list("news")
    assert lookup.lookup(canonical("late@example.org"), scope=None) == NOT_SUPPRESSED

    suppress(writer, "late@example.org", SuppressionReason.HARD_BOUNCE)
    suppress(writer, "listed@example.org", list_name="news")
    assert lookup.refresh()

    assert lookup.lookup(canonical("late@example.org"), scope=None).reason == "hard_bounce"
    # The list was created after the first load: its name is known from this refresh on.
    assert lookup.lookup(canonical("listed@example.org"), scope="news") == SUPPRESSED_UNSUB
    # The entries read again in the next overlapping refresh are not counted twice.
    entries = len(lookup)
    assert lookup.refresh()
    assert len(lookup) == entries


def test_late_commits_within_the_overlaps_are_read(
    store: Vault, writer: Vault, clock: FixedClock, monotonic: FakeMonotonic
) -> None:
    lookup = StoreLookup(store, monotonic=monotonic, wide_every=4)
    lookup.rebuild()
    clock.advance(timedelta(minutes=5))
    lookup.refresh()
    assert isinstance(writer.clock, FixedClock)

    # A writer whose clock is a second behind (or whose commit came a second late): the next
    # refresh reads it, since every refresh reads 2 s further back than the last one began.
    writer.clock.set(clock.now() - timedelta(seconds=1))
    suppress(writer, "a-second-late@example.org")
    clock.advance(timedelta(seconds=0.5))
    lookup.refresh()
    assert lookup.lookup(canonical("a-second-late@example.org"), scope=None) == SUPPRESSED_UNSUB

    # 40 s late: every wide_every-th refresh reads a whole minute back.
    writer.clock.set(clock.now() - timedelta(seconds=40))
    suppress(writer, "skewed@example.org")
    refreshes = 0
    while lookup.lookup(canonical("skewed@example.org"), scope=None) == NOT_SUPPRESSED:
        clock.advance(timedelta(seconds=0.5))
        lookup.refresh()
        refreshes += 1
        assert refreshes <= 4
    assert lookup.lookup(canonical("skewed@example.org"), scope=None) == SUPPRESSED_UNSUB

    # Beyond the overlap only the next full rebuild finds it.
    writer.clock.set(clock.now() - timedelta(minutes=3))
    suppress(writer, "very-late@example.org")
    for _ in range(4):
        lookup.refresh()
    assert lookup.lookup(canonical("very-late@example.org"), scope=None) == NOT_SUPPRESSED
    lookup.rebuild()
    assert lookup.lookup(canonical("very-late@example.org"), scope=None) == SUPPRESSED_UNSUB


def test_a_rebuild_drops_removed_and_expired_entries(
    store: Vault, clock: FixedClock, lookup: StoreLookup
) -> None:
    suppress(store, "removed@example.org", SuppressionReason.MANUAL)
    suppress(
        store, "soft@example.org", SuppressionReason.SOFT_BOUNCE, expires_in=timedelta(hours=1)
    )
    lookup.rebuild()
    assert lookup.lookup(canonical("removed@example.org"), scope=None).suppressed
    assert lookup.lookup(canonical("soft@example.org"), scope=None).suppressed

    with store.write() as session:
        suppressions.remove(
            session,
            keys=store.keys,
            canonical=canonical("removed@example.org"),
            reasons=[SuppressionReason.MANUAL],
            list_id=None,
        )
    clock.advance(timedelta(hours=2))
    lookup.refresh()  # a refresh adds, it does not remove ...
    assert lookup.lookup(canonical("removed@example.org"), scope=None).suppressed
    lookup.rebuild()  # ... the rebuild does
    assert lookup.lookup(canonical("removed@example.org"), scope=None) == NOT_SUPPRESSED
    assert lookup.lookup(canonical("soft@example.org"), scope=None) == NOT_SUPPRESSED


def test_stale_copy_becomes_unavailable_and_recovers(
    store: Vault, lookup: StoreLookup, monotonic: FakeMonotonic
) -> None:
    suppress(store, "gone@example.org")
    lookup.rebuild()
    monotonic.now += 4.9
    assert lookup.lookup(canonical("gone@example.org"), scope=None) == SUPPRESSED_UNSUB
    monotonic.now += 0.2  # no successful read for more than 5 s
    with pytest.raises(StoreUnavailable):
        lookup.lookup(canonical("gone@example.org"), scope=None)
    with pytest.raises(StoreUnavailable):
        lookup.lookup(canonical("anyone@example.org"), scope=None)
    lookup.refresh()
    assert lookup.lookup(canonical("anyone@example.org"), scope=None) == NOT_SUPPRESSED
    assert lookup.staleness() == 0.0


def test_replace_store_keys_matches_old_and_new_keys_until_the_next_rebuild(
    store: Vault, settings: Settings, lookup: StoreLookup
) -> None:
    suppress(store, "old-key@example.org")
    lookup.rebuild()
    ring = open_keyring_from_settings(settings)
    old_key = ring.primary(Purpose.SUPPRESSION)
    new_key = ring.add_version(Purpose.SUPPRESSION)
    ring.retire(old_key.id)
    rotated = KeySuite.from_keyring(ring)
    assert rotated.suppression.key_ids == [new_key.id]

    lookup.replace_store_keys(rotated)
    # The entry is still under the retired key and the snapshot was read before the switch:
    # the lookup hashes under both keyrings until a rebuild has run with the new one.
    assert lookup.lookup(canonical("old-key@example.org"), scope=None) == SUPPRESSED_UNSUB
    lookup.rebuild()
    assert lookup.lookup(canonical("old-key@example.org"), scope=None) == NOT_SUPPRESSED


def test_ten_million_entries_fit_well_under_a_gigabyte() -> None:
    snapshot = SuppressionSnapshot(capacity=10_000_000)
    assert snapshot.memory_bytes < 250_000_000
    # A full rebuild holds a second base beside the one in use for a moment.
    assert 2 * snapshot.memory_bytes < 600_000_000


# -- the threads, against real outages -------------------------------------------------------------


def wait_until(condition: object, *, timeout: float = 10.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def answers(lookup: StoreLookup, address: str) -> LookupResult | None:
    try:
        return lookup.lookup(canonical(address), scope=None)
    except StoreUnavailable:
        return None


def test_threads_refresh_and_defer_while_the_sqlite_file_is_gone(
    keys_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # SQLite's outage (PostgreSQL's, a cut connection, is in the e2e test).
    database = tmp_path / "outage.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    engine.dispose()
    settings = Settings(
        database_url=f"sqlite:///{database}", keys_dir=keys_dir, kek_passphrase=TEST_PASSPHRASE
    )
    caplog.set_level(logging.INFO, logger="vault")
    writer = Vault.open(settings)
    reader = Vault(
        settings=settings,
        engine=lookup_engine(settings.database_url),
        keyring=open_keyring_from_settings(settings),
    )
    lookup = StoreLookup(reader, refresh_interval=0.05, max_staleness=0.5, rebuild_interval=30)
    try:
        lookup.start()
        assert lookup.wait_loaded(10)
        assert answers(lookup, CANARY) == NOT_SUPPRESSED
        suppress(writer, CANARY)
        assert wait_until(lambda: answers(lookup, CANARY) == SUPPRESSED_UNSUB, timeout=2)

        os.rename(database, database.with_suffix(".moved"))
        assert wait_until(lambda: answers(lookup, "anyone@example.org") is None)
        os.rename(database.with_suffix(".moved"), database)
        assert wait_until(lambda: answers(lookup, "anyone@example.org") == NOT_SUPPRESSED)
        assert answers(lookup, CANARY) == SUPPRESSED_UNSUB
    finally:
        lookup.stop()
        reader.close()
        writer.close()
    assert "failed (OperationalError" in caplog.text
    assert "works again" in caplog.text
    assert CANARY_LOCAL not in caplog.text
    assert CANARY_LOCAL.lower() not in caplog.text
