"""Purges on a schedule inside ``mailvault serve``: one background thread that applies the
retention rules every ``purge_interval_hours``, started and stopped with the application.

Ticks keep a fixed cadence; one that falls while a purge is still running is skipped, not
queued. The first tick comes when the last completed purge (by anyone) is one interval old, so
restarts neither skip purges nor repeat them, and an interrupted run is resumed at once.
Shutdown stops a running purge between two batches; the next start resumes it. Logs hold
counts only.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from vault.audit.services import Actor
from vault.retention.models import PurgeRun, PurgeRunClass
from vault.retention.purge import run_purge
from vault.retention.rules import RetentionConfig

if TYPE_CHECKING:
    from vault.store import Vault

log = logging.getLogger("vault.retention.schedule")

#: Who the audit log names for a scheduled purge.
SCHEDULE_ACTOR = Actor(name="schedule", role="system")
TRIGGER = "schedule"


class _Stopping(Exception):
    """Raised between two batches of a purge when the scheduler is stopped."""


class PurgeScheduler:
    def __init__(
        self,
        store: Vault,
        config: RetentionConfig,
        *,
        interval_seconds: float | None = None,
        first_delay_seconds: float | None = None,
        purge: Callable[..., uuid.UUID] = run_purge,
    ) -> None:
        """``interval_seconds`` defaults to ``config.purge_interval_hours``; tests pass a few
        hundredths of a second. ``first_delay_seconds`` defaults to what the last run says."""
        self._store = store
        self.config = config
        self.interval = (
            interval_seconds if interval_seconds is not None else config.purge_interval_hours * 3600
        )
        if self.interval <= 0:
            raise ValueError("the purge interval must be positive")
        self.first_delay = first_delay_seconds
        self._purge = purge
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.skipped = 0
        self.failures = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the purge scheduler is already started")
        self._thread = threading.Thread(target=self._loop, name="mailvault-purge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop ticking; a running purge stops after its current batch (and resumes later)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the purge thread did not stop within %s s", timeout)

    @property
    def running(self) -> bool:
        return self._busy.locked()

    @property
    def store(self) -> Vault:
        """The store, acting as the schedule: taken afresh each time, so a keyring the store
        switched to since (``Vault.use_keyring``) is the one the next purge audits with."""
        return self._store.acting_as(SCHEDULE_ACTOR)

    # -- one tick -------------------------------------------------------------------------------
    def tick(self) -> uuid.UUID | None:
        """Run one purge now, unless one is still running (then skip it and return None)."""
        if not self._busy.acquire(blocking=False):
            self.skipped += 1
            log.info("scheduled purge skipped: the previous one is still running")
            return None
        try:
            run_id = self._purge(
                self.store, self.config, trigger=TRIGGER, progress=self._between_batches
            )
        except _Stopping:
            log.info("scheduled purge interrupted by shutdown; the next start resumes it")
            return None
        except Exception as exc:  # the schedule outlives one failed run (database down, ...)
            self.failures += 1
            log.error("scheduled purge failed: %s", type(exc).__name__)
            return None
        finally:
            self._busy.release()
        self.runs += 1
        log.info("scheduled purge %s removed %s", run_id, self._counts(run_id))
        return run_id

    def _between_batches(self, _removed: int) -> None:
        if self._stop.is_set():
            raise _Stopping

    def _counts(self, run_id: uuid.UUID) -> dict[str, int]:
        with self.store.read() as session:
            rows = session.execute(
                select(PurgeRunClass.record_class, PurgeRunClass.removed)
                .where(PurgeRunClass.run_id == run_id)
                .order_by(PurgeRunClass.record_class)
            )
            return {name: int(removed) for name, removed in rows}

    # -- the loop -------------------------------------------------------------------------------
    def due_in(self) -> float:
        """Seconds until a purge is due: 0 with an unfinished run or none ever completed."""
        with self.store.read() as session:
            unfinished = session.scalar(
                select(func.count())
                .select_from(PurgeRun)
                .where(PurgeRun.status == "running", PurgeRun.dry_run.is_(False))
            )
            last: datetime | None = session.scalar(
                select(func.max(PurgeRun.finished_at)).where(
                    PurgeRun.status == "completed", PurgeRun.dry_run.is_(False)
                )
            )
        if unfinished or last is None:
            return 0.0
        elapsed = (self.store.now() - last).total_seconds()
        return min(max(self.interval - elapsed, 0.0), self.interval)

    def _loop(self) -> None:
        try:
            delay = self.first_delay if self.first_delay is not None else self.due_in()
        except Exception as exc:
            log.error(
                "cannot read the last purge (%s); first purge in one interval", type(exc).__name__
            )
            delay = self.interval
        log.info(
            "purge scheduled every %g h; first in %.0f s", self.interval / 3600, max(delay, 0.0)
        )
        next_at = time.monotonic() + delay
        while not self._stop.wait(max(next_at - time.monotonic(), 0.0)):
            self.tick()
            next_at += self.interval
            now = time.monotonic()
            if next_at <= now:
                # The purge outlasted one or more intervals: those ticks are skipped, not
                # run back to back.
                missed = int((now - next_at) // self.interval) + 1
                self.skipped += missed
                next_at += missed * self.interval
                log.info("skipped %d scheduled purge(s) while one was running", missed)
