"""Purge as a real process: killed between batches and rerun, and running beside live checks."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.conftest import REPO
from vault.addresses import parse_address
from vault.config import Settings
from vault.db.bulk import insert_many
from vault.models import Base
from vault.retention.models import PurgeRun, PurgeRunClass
from vault.retention.purge import run_purge
from vault.retention.reports import purge_reports
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values
from vault.suppressions.models import SuppressionReason

ROWS = 6000


def ended_subscribers(store: Vault, count: int, *, days_ago: int, now: datetime) -> None:
    """Many unsubscribed subscribers whose status changed long ago, inserted in bulk."""
    mailing_list = store.create_list(f"old-{uuid.uuid4().hex[:6]}")
    then = now - timedelta(days=days_ago)
    table = Base.metadata.tables["subscribers"]
    for start in range(0, count, 2000):
        rows = []
        for i in range(start, min(count, start + 2000)):
            values = subscriber_values(
                keys=store.keys,
                list_id=mailing_list.id,
                address=parse_address(f"gone{i}-{mailing_list.id.hex[:4]}@example.com"),
                consent=ConsentMethod.SINGLE_OPT_IN,
                source="t",
                now=then,
            )
            values["status"] = "unsubscribed"
            rows.append(values)
        with store.write() as session:
            insert_many(session.connection(), table, rows)


def removed_so_far(store: Vault) -> int:
    with store.read() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(PurgeRunClass.removed), 0))
                .join(PurgeRun)
                .where(PurgeRun.dry_run.is_(False))
            )
            or 0
        )


def remaining(store: Vault) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_killed_purge_resumes_to_the_uninterrupted_result(
    store: Vault, cli_env: dict[str, str]
) -> None:
    # The purge runs in another process, on the real clock.
    ended_subscribers(store, ROWS, days_ago=40, now=datetime.now(UTC))
    ended_subscribers(store, 50, days_ago=10, now=datetime.now(UTC))  # inside the window: stays
    command = [sys.executable, "-m", "vault", "purge", "--batch-size", "5"]
    process = subprocess.Popen(
        command, env=cli_env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while removed_so_far(store) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    partial = removed_so_far(store)
    assert 0 < partial < ROWS, "the purge must be killed between batches, not after finishing"
    assert remaining(store) == ROWS + 50 - partial  # counts and deletions moved together
    rerun = subprocess.run(
        command, env=cli_env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert remaining(store) == 50
    with store.read() as session:
        reports = [r for r in purge_reports(session) if not r.dry_run]
    assert len(reports) == 1  # resumed, not a second run
    counts = {line.record_class: line.removed for line in reports[0].classes}
    assert counts["ended_subscriber"] == ROWS
    assert store.verify_audit().ok


def test_checks_keep_answering_during_a_purge(store: Vault) -> None:
    ended_subscribers(store, 3000, days_ago=40, now=store.now())
    probes = [f"probe{i}@example.com" for i in range(200)]
    store.suppress(
        [parse_address(p) for p in probes[::2]], reason=SuppressionReason.MANUAL, source="t"
    )
    expected = [i % 2 == 0 for i in range(200)]
    failures: list[str] = []
    rounds = 0
    done = threading.Event()

    def checker() -> None:
        nonlocal rounds
        while not done.is_set():
            try:
                answers = [a.suppressed for a in store.check(probes)]
            except Exception as exc:
                failures.append(type(exc).__name__)
                return
            if answers != expected:
                failures.append("wrong answer")
            rounds += 1

    thread = threading.Thread(target=checker)
    thread.start()
    try:
        small = retention_config(Settings(sections={"retention": {"batch_size": 50}}), environ={})
        run_purge(store, small)
    finally:
        done.set()
        thread.join(timeout=60)
    assert failures == []
    assert rounds > 0
    assert remaining(store) == 0
