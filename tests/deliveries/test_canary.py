"""Privacy invariant 1 on the bounce paths: the canary's local part, pushed through ingestion (API
and command line), JSON events and one-click unsubscribe, reaches no stored byte and no log."""

from __future__ import annotations

import io
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.canary import CANARY, CANARY_LOCAL, assert_absent, database_bytes
from tests.deliveries.messages import (
    COMPLAINT,
    CORPORATE_HARD,
    MAILBOX_FULL,
    SPAM_BLOCK,
    mbox,
    message_for,
)
from tests.deliveries.test_parsing import StartAtOnce
from vault.audit.models import AuditEntry
from vault.bounces import iter_messages
from vault.clock import FixedClock
from vault.deliveries import parsing
from vault.deliveries.models import DeliveryOutcome
from vault.deliveries.parsing import CHUNK_MESSAGES, SMALL_INPUT
from vault.store import Vault
from vault.subscribers.models import ConsentMethod


def test_canary_never_stored_or_logged_on_bounce_paths(
    store: Vault,
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
    captured_logs: io.StringIO,
    cli_env: dict[str, str],
) -> None:
    news = store.create_list("news")
    subscribed = store.subscribe(
        CANARY, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form"
    )
    assert subscribed.subscriber_id is not None
    bounce = message_for(CORPORATE_HARD, CANARY)
    complaint = message_for(COMPLAINT, CANARY)
    assert CANARY_LOCAL.encode() in bounce and CANARY_LOCAL.encode() in complaint

    # A bounce (pending), the same bounce again (a duplicate, ignored), a second bounce a day
    # later (suppressed), a soft one and a complaint.
    store.ingest([bounce, message_for(MAILBOX_FULL, CANARY)])
    clock.advance(timedelta(days=1))
    again = message_for(CORPORATE_HARD, CANARY)
    summary = store.ingest([bounce, again, complaint, message_for(SPAM_BLOCK, CANARY)])
    assert summary.tally.by_taken["duplicate"] == 1
    assert summary.tally.suppressions_added == {"hard_bounce": 1, "complaint": 1}
    assert store.check([CANARY])[0].reason == "complaint"

    # A JSON event whose diagnostic quotes the address and the bare local part.
    store.record_event(
        {
            "type": "bounce",
            "recipient": CANARY,
            "status": "5.2.2",
            "diagnostic": f'552 5.2.2 <{CANARY}>: mailbox of user: "{CANARY_LOCAL}" is full '
            f"(/var/mail/{CANARY_LOCAL.lower()})",
            "list": "news",
            "event_id": f"<{CANARY_LOCAL}.retry@mta.example>",
        }
    )
    # One-click unsubscribe, twice.
    token = store.unsubscribe_token(subscriber_id=subscribed.subscriber_id, list_id=news.id)
    assert_absent(token, "the unsubscribe token")
    store.unsubscribe_by_token(token)
    store.unsubscribe_by_token(token)

    # The command line, whose stderr is its log; the dry run echoes what the operator gave it.
    box = tmp_path / "canary.mbox"
    box.write_bytes(mbox([bounce, b"unreadable\n", complaint]))
    runs = [
        subprocess.run(
            [sys.executable, "-m", "vault", *args],
            env=cli_env,
            input=stdin,
            capture_output=True,
            timeout=120,
        )
        for args, stdin in [
            (["ingest", str(box)], None),
            (["ingest", "--json", "-"], bounce),
            (["ingest", "--dry-run", "--json", str(box)], None),
        ]
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert_absent(run.stderr, f"stderr of mailvault {run.args[3:5]}")
    assert_absent(runs[0].stdout + runs[1].stdout, "the summary of a real run")
    assert CANARY.lower().encode() in runs[2].stdout

    with store.read() as session:
        outcomes = session.scalars(select(DeliveryOutcome)).all()
        entries = session.scalars(select(AuditEntry)).all()
    diagnostics = [o.diagnostic for o in outcomes if o.diagnostic]
    assert len(diagnostics) >= 5
    assert_absent("\n".join(diagnostics), "the redacted diagnostics")
    for entry in entries:
        assert_absent(f"{entry.subject} {entry.details}", "the audit log")
    assert_absent(captured_logs.getvalue(), "the captured logs")
    assert_absent(database_bytes(database_url), "the database")


def test_canary_never_stored_or_logged_when_parser_workers_read_it(
    store: Vault,
    database_url: str,
    tmp_path: Path,
    captured_logs: io.StringIO,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Enough messages for the parser to start worker processes (more than one chunk), the
    # canary in every one of them, and input the workers cannot read among them.
    kinds = [CORPORATE_HARD, COMPLAINT, MAILBOX_FULL, SPAM_BLOCK]

    def mailbox() -> list[bytes]:
        return [
            b"unreadable\n" if i % 10 == 7 else message_for(kinds[i % 4], CANARY)
            for i in range(SMALL_INPUT + 2 * CHUNK_MESSAGES)
        ]

    messages = mailbox()
    raw = mbox(messages)
    # The command line reads other messages (new Message-IDs): the same ones would be
    # recognised as already ingested and store nothing.
    box = tmp_path / "canary.mbox"
    box.write_bytes(mbox(mailbox()))

    # Here the workers are waited for, so that they certainly parse most of the messages.
    handed_out: list[int] = []

    class CountingPool(ProcessPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            handed_out.append(len(args[0]))
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(parsing, "Thread", StartAtOnce)
    monkeypatch.setattr(parsing, "ProcessPoolExecutor", CountingPool)
    summary = store.ingest(iter_messages(io.BytesIO(raw)), workers=2)
    assert summary.messages == len(messages) and summary.unreadable == len(messages) // 10
    assert sum(handed_out) > len(messages) // 2
    runs = [
        subprocess.run(
            [sys.executable, "-m", "vault", *args],
            env=cli_env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        for args in (
            ["ingest", "--workers=2", str(box)],
            ["ingest", "--workers=2", "--json", str(box)],
            ["ingest", "--workers=2", "--dry-run", str(box)],
        )
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert_absent(run.stderr, f"stderr of mailvault {run.args[3:6]}")
        assert_absent(run.stdout, f"stdout of mailvault {run.args[3:6]}")
    assert b"unreadable" in runs[0].stderr

    with store.read() as session:
        outcomes = session.scalars(select(DeliveryOutcome)).all()
        entries = session.scalars(select(AuditEntry)).all()
    assert len(outcomes) > len(messages)
    assert_absent("\n".join(o.diagnostic or "" for o in outcomes), "the redacted diagnostics")
    for entry in entries:
        assert_absent(f"{entry.subject} {entry.details}", "the audit log")
    assert_absent(captured_logs.getvalue(), "the captured logs")
    assert_absent(database_bytes(database_url), "the database")
