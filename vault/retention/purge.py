"""Applying the retention rules: batched, idempotent, resumable purges that leave a report.

Each batch deletes at most ``batch_size`` records and adds them to the run's counts in the same
transaction, so checks and releases keep answering while a purge runs, and a purge killed at any
point resumes (same ``as_of``, same counts) instead of starting over or counting twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.audit import services as audit
from vault.audit.models import AuditEntry
from vault.retention.classes import AUDIT_ENTRY
from vault.retention.models import PurgeRun, PurgeRunClass
from vault.retention.rules import RetentionConfig, Rule

if TYPE_CHECKING:
    from vault.store import Vault


def _open_run(store: Vault, config: RetentionConfig, *, dry_run: bool, trigger: str) -> uuid.UUID:
    """The unfinished run to resume, or a new one."""
    with store.write() as session:
        if not dry_run:
            running = session.scalar(
                select(PurgeRun).where(PurgeRun.status == "running", PurgeRun.dry_run.is_(False))
            )
            if running is not None:
                return running.id
        now = store.now()
        run = PurgeRun(
            id=uuid.uuid4(),
            dry_run=dry_run,
            status="running",
            as_of=now,
            started_at=now,
            rules=config.as_dict(),
            trigger=trigger[:40],
            classes=[
                PurgeRunClass(
                    id=uuid.uuid4(),
                    record_class=rule.record_class.name,
                    removed=0,
                    batches=0,
                    done=False,
                )
                for rule in config.rules
            ],
        )
        session.add(run)
        return run.id


def run_purge(
    store: Vault,
    config: RetentionConfig,
    *,
    dry_run: bool = False,
    trigger: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> uuid.UUID:
    """Apply every rule; return the run's id (its report is in ``purge_runs``)."""
    run_id = _open_run(store, config, dry_run=dry_run, trigger=trigger)
    with store.read() as session:
        run = session.get(PurgeRun, run_id)
        assert run is not None
        as_of = run.as_of
        done = {c.record_class for c in run.classes if c.done}
    for rule in config.rules:
        name = rule.record_class.name
        if name in done:
            continue
        cutoff = rule.cutoff(as_of)
        if dry_run:
            with store.write() as session:
                count = rule.record_class.count_expired(session, cutoff=cutoff)
                _class_row(session, run_id, name).removed = count
                _finish_class(session, run_id, rule)
            if progress:
                progress(count)
            continue
        while True:
            with store.write() as session:
                # The class row first, locked: a second process resuming the same run (serve's
                # schedule beside a hand-run `mailvault purge`) waits here, then sees this
                # batch's deletions and counts instead of overwriting them.
                row = _class_row(session, run_id, name, lock=True)
                if row.done:
                    break
                removed, last_key = rule.record_class.delete_expired(
                    session, cutoff=cutoff, limit=config.batch_size
                )
                if not removed:
                    _finish_class(session, run_id, rule)
                    break
                row.removed += removed
                row.batches += 1
                if last_key is not None:
                    row.removed_through = max(int(last_key), row.removed_through or 0)
            if progress:
                progress(removed)
    with store.write() as session:
        run = session.get(PurgeRun, run_id, with_for_update=True)
        assert run is not None
        if run.status == "completed":  # another process finished this run meanwhile
            return run_id
        counts = {c.record_class: c.removed for c in run.classes}
        details: dict[str, object] = {"run_id": str(run_id), "dry_run": dry_run, "removed": counts}
        removed_through_seq = next(
            (c.removed_through for c in run.classes if c.record_class == AUDIT_ENTRY.name), None
        )
        if removed_through_seq is None and not dry_run:
            removed_through_seq = _previous_audit_cut(session)
        if removed_through_seq is not None:
            # The chain's new first entry follows this one; `audit verify` checks that only a
            # recorded purge, never an unexplained gap, removed the entries before it.
            details["audit_removed_through_seq"] = removed_through_seq
        entry = audit.record(
            session,
            keyring=store.keyring,
            actor=store.actor,
            tag="retention:dry_run" if dry_run else "retention:purge",
            subject=f"purge:{run_id}",
            details=details,
            now=store.now(),
        )
        run.status = "completed"
        run.finished_at = store.now()
        run.audit_entry_id = entry.id
    return run_id


def _class_row(
    session: Session, run_id: uuid.UUID, name: str, *, lock: bool = False
) -> PurgeRunClass:
    statement = select(PurgeRunClass).where(
        PurgeRunClass.run_id == run_id, PurgeRunClass.record_class == name
    )
    if lock:
        statement = statement.with_for_update()  # SQLite: its write lock already serializes
    row = session.scalar(statement)
    assert row is not None
    return row


def _finish_class(session: Session, run_id: uuid.UUID, rule: Rule) -> None:
    row = _class_row(session, run_id, rule.record_class.name)
    row.done = True
    row.oldest_remaining = rule.record_class.oldest(session)


def _previous_audit_cut(session: Session) -> int | None:
    """Carry the last recorded cut forward, so it survives the purge of its own entry."""
    entries = session.scalars(select(AuditEntry.details).where(AuditEntry.tag == "retention:purge"))
    cuts = [
        int(d["audit_removed_through_seq"]) for d in entries if "audit_removed_through_seq" in d
    ]
    return max(cuts) if cuts else None
