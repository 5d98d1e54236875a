"""The purge schedule of ``mailvault serve``: ticks at an injected interval, skips ticks while a
purge runs, stops cleanly (between batches) and resumes, and starts with the application."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from vault.api.app import create_app
from vault.audit.models import AuditEntry
from vault.clock import FixedClock
from vault.crypto import Purpose
from vault.keys import services as keys
from vault.retention.models import PurgeRun
from vault.retention.purge import run_purge
from vault.retention.rules import RetentionConfig, retention_config
from vault.retention.schedule import PurgeScheduler
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

INTERVAL = 0.05  # seconds


def config(store: Vault, **retention: Any) -> RetentionConfig:
    store_settings = store.settings
    sections = {**store_settings.sections, "retention": retention}
    return retention_config(type(store_settings)(sections=sections), environ={})


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def ended_subscribers(store: Vault, n: int) -> None:
    store.create_list("news")
    for i in range(n):
        address = f"gone{i}@example.com"
        store.subscribe(address, list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t")
        store.unsubscribe(address, list_name="news", source="t")


def test_a_tick_purges_as_the_schedule_and_logs_counts_only(
    store: Vault, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    ended_subscribers(store, 3)
    clock.advance(timedelta(days=31))
    scheduler = PurgeScheduler(store, config(store), interval_seconds=INTERVAL)
    with caplog.at_level(logging.INFO, logger="vault.retention.schedule"):
        run_id = scheduler.tick()
    assert run_id is not None and scheduler.runs == 1
    with store.read() as session:
        run = session.get_one(PurgeRun, run_id)
        entry = session.get_one(AuditEntry, run.audit_entry_id)
    assert run.trigger == "schedule" and run.status == "completed"
    assert (entry.actor, entry.role) == ("schedule", "system")
    (message,) = [r.getMessage() for r in caplog.records if "removed" in r.getMessage()]
    assert "'ended_subscriber': 3" in message and "gone" not in message


def test_ticks_repeat_at_the_interval_and_stop(store: Vault) -> None:
    scheduler = PurgeScheduler(
        store, config(store), interval_seconds=INTERVAL, first_delay_seconds=0
    )
    scheduler.start()
    try:
        wait_for(lambda: scheduler.runs >= 3)
    finally:
        scheduler.stop(timeout=10)
    assert scheduler._thread is not None and not scheduler._thread.is_alive()
    runs = scheduler.runs
    time.sleep(INTERVAL * 4)
    assert scheduler.runs == runs, "no tick after stop"
    with store.read() as session:
        triggers = set(session.scalars(select(PurgeRun.trigger)))
    assert triggers == {"schedule"}


def test_a_tick_while_a_purge_runs_is_skipped_not_queued(store: Vault) -> None:
    release = threading.Event()
    entered = threading.Event()
    calls: list[str] = []

    def slow_purge(store: Vault, config: RetentionConfig, **kwargs: Any) -> uuid.UUID:
        calls.append(kwargs["trigger"])
        entered.set()
        release.wait(10)
        return run_purge(store, config, **kwargs)

    scheduler = PurgeScheduler(
        store,
        config(store),
        interval_seconds=INTERVAL,
        first_delay_seconds=0,
        purge=slow_purge,
    )
    scheduler.start()
    try:
        assert entered.wait(10)
        assert scheduler.running
        assert scheduler.tick() is None, "a second purge does not start beside the first"
        time.sleep(INTERVAL * 5)  # several ticks fall while the purge is still running
        assert calls == ["schedule"]
        release.set()
        wait_for(lambda: scheduler.runs >= 1)
    finally:
        release.set()
        scheduler.stop(timeout=10)
    assert scheduler.skipped >= 3, "the manual tick and the ticks missed meanwhile"
    # Missed ticks were dropped, not replayed back to back once the purge ended.
    assert len(calls) <= scheduler.runs + 1


def test_stop_interrupts_between_batches_and_the_next_start_resumes(
    store: Vault, clock: FixedClock
) -> None:
    ended_subscribers(store, 6)
    clock.advance(timedelta(days=31))
    small = config(store, batch_size=1)
    stopping: list[PurgeScheduler] = []

    def purge_then_stop(store: Vault, config: RetentionConfig, **kwargs: Any) -> uuid.UUID:
        progress = kwargs.pop("progress")

        def after_batch(removed: int) -> None:
            stopping[0]._stop.set()  # shutdown arrives during the first batch
            progress(removed)

        return run_purge(store, config, progress=after_batch, **kwargs)

    first = PurgeScheduler(store, small, interval_seconds=3600, purge=purge_then_stop)
    stopping.append(first)
    assert first.tick() is None
    with store.read() as session:
        (run,) = session.scalars(select(PurgeRun)).all()
        assert run.status == "running"
        assert {c.record_class: c.removed for c in run.classes}["ended_subscriber"] == 1
    second = PurgeScheduler(store, small, interval_seconds=3600)
    assert second.due_in() == 0, "an interrupted run is resumed at once"
    assert second.tick() == run.id
    with store.read() as session:
        resumed = session.get_one(PurgeRun, run.id)
        assert resumed.status == "completed"
        assert {c.record_class: c.removed for c in resumed.classes}["ended_subscriber"] == 6


def test_the_first_tick_waits_for_the_last_run_to_be_an_interval_old(
    store: Vault, clock: FixedClock
) -> None:
    scheduler = PurgeScheduler(store, config(store))  # 24 h by default
    assert scheduler.interval == 24 * 3600
    assert scheduler.due_in() == 0, "never purged: due now"
    run_purge(store, config(store), dry_run=True)
    assert scheduler.due_in() == 0, "a dry run removes nothing: still due"
    scheduler.tick()
    clock.advance(timedelta(hours=1))
    assert scheduler.due_in() == pytest.approx(23 * 3600)
    clock.advance(timedelta(days=3))
    assert scheduler.due_in() == 0


def test_the_application_starts_and_stops_the_schedule(store: Vault) -> None:
    app = create_app(store, purge_schedule=True, purge_interval_seconds=INTERVAL)
    scheduler = app.state.purge_scheduler
    assert isinstance(scheduler, PurgeScheduler)

    async def serve_briefly() -> None:
        async with app.router.lifespan_context(app):
            with anyio.fail_after(20):
                while scheduler.runs < 2:
                    await anyio.sleep(0.01)

    anyio.run(serve_briefly)
    assert scheduler._thread is not None and not scheduler._thread.is_alive()
    assert create_app(store).state.purge_scheduler is None, "off unless asked for"


def test_each_tick_audits_under_the_keyring_the_store_has_now(store: Vault) -> None:
    scheduler = PurgeScheduler(store, config(store), interval_seconds=INTERVAL)
    before = store.keyring.primary(Purpose.AUDIT).id
    keys.rotate(store, purpose=Purpose.AUDIT)  # switches the store to the new keyring
    after = store.keyring.primary(Purpose.AUDIT).id
    assert after != before
    run_id = scheduler.tick()
    with store.read() as session:
        run = session.get_one(PurgeRun, run_id)
        assert session.get_one(AuditEntry, run.audit_entry_id).key_id == after
    assert store.verify_audit().ok
