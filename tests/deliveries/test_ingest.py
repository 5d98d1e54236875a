"""Ingesting a mailbox through the store: batches, audit entries, unreadable messages, erasure."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.deliveries.messages import (
    COMPLAINT,
    CONSUMER_HARD,
    CORPORATE_HARD,
    DELIVERED,
    MAILBOX_FULL,
    SPAM_BLOCK,
    mbox,
    message_for,
)
from vault.audit.models import AuditEntry
from vault.bounces import iter_messages
from vault.clock import FixedClock
from vault.config import Settings
from vault.crypto import Purpose
from vault.db import make_engine
from vault.db.migrate import upgrade
from vault.deliveries import ingest as deliveries_ingest
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.deliveries.reports import ParsedRaw, parse_raw
from vault.errors import ParserStopped
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

PEOPLE = {
    "hard": "alice.hard@corp-one.example",
    "gmail": "bob.gone@gmail.com",
    "spam": "carol.spam@corp-two.example",
    "full": "dave.full@corp-three.example",
    "complaint": "erin.angry@corp-four.example",
    "ok": "frank.fine@corp-five.example",
}


def mailbox() -> bytes:
    return mbox(
        [
            message_for(CORPORATE_HARD, PEOPLE["hard"]),
            message_for(CONSUMER_HARD, PEOPLE["gmail"]),
            b"this line is not a message\n",
            message_for(SPAM_BLOCK, PEOPLE["spam"]),
            message_for(MAILBOX_FULL, PEOPLE["full"]),
            b"From: someone@example.net\nSubject: thanks!\n\nJust a reply.\n",
            message_for(COMPLAINT, PEOPLE["complaint"]),
            message_for(DELIVERED, PEOPLE["ok"]),
        ]
    )


def test_a_mailbox_is_applied_counted_and_audited_per_batch(store: Vault) -> None:
    store.create_list("news")
    for address in PEOPLE.values():
        store.subscribe(address, list_name="news", consent=ConsentMethod.IMPORTED, source="crm")
    summary = store.ingest(iter_messages(io.BytesIO(mailbox())), batch_size=3)

    assert (summary.messages, summary.with_reports, summary.without_bounce, summary.unreadable) == (
        8,
        6,
        1,
        1,
    )
    assert summary.problems == [(3, "unreadable: no mail header at the start")]
    tally = summary.tally
    assert dict(tally.by_action) == {
        "confirm": 1,
        "suppress": 2,
        "domain": 1,
        "count": 1,
        "ignore": 1,
    }
    assert dict(tally.by_taken) == {
        "pending": 1,
        "suppressed": 2,
        "domain": 1,
        "counted": 1,
        "ignored": 1,
    }
    assert dict(tally.suppressions_added) == {"hard_bounce": 1, "complaint": 1}
    assert tally.outcomes_stored == 5

    checked = {a.address: a.reason for a in store.check(PEOPLE.values())}
    assert checked == {
        PEOPLE["hard"]: None,
        PEOPLE["gmail"]: "hard_bounce",
        PEOPLE["spam"]: None,
        PEOPLE["full"]: None,
        PEOPLE["complaint"]: "complaint",
        PEOPLE["ok"]: None,
    }

    with store.read() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.tag == "delivery:ingest").order_by(AuditEntry.seq)
        ).all()
        rows = session.scalars(select(DeliveryOutcome)).all()
        states = session.scalar(select(func.count()).select_from(BounceState))
    assert [(e.details["batch"], e.details["messages"], e.details["last"]) for e in entries] == [
        (1, 3, False),
        (2, 3, False),
        (3, 2, True),
    ]
    assert {e.subject for e in entries} == {f"ingest:{summary.run_id}"}
    assert sum(e.details["outcomes_stored"] for e in entries) == 5
    assert sum(e.details["unreadable"] for e in entries) == 1
    # pending hard bounce and the soft count
    assert states == 2
    # Outcomes are linked by id, and hold no address or local part anywhere.
    assert {r.domain for r in rows} == {a.split("@")[1] for k, a in PEOPLE.items() if k != "ok"}
    assert all(r.subscriber_id is not None for r in rows if r.action != "domain")
    stored = " ".join(f"{r.domain} {r.diagnostic} {r.status} {r.reason}" for r in rows).lower()
    stored += " ".join(f"{e.subject} {e.details}" for e in entries).lower()
    for address in PEOPLE.values():
        assert address.split("@")[0] not in stored


def test_an_empty_run_still_leaves_an_audit_entry(store: Vault) -> None:
    summary = store.ingest([])
    assert summary.messages == 0
    with store.read() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert entry.tag == "delivery:ingest" and entry.details["last"] is True
    assert entry.details["messages"] == 0


def test_erasure_removes_outcomes_and_bounce_state(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(PEOPLE["hard"], list_name="news", consent=ConsentMethod.IMPORTED, source="x")
    store.subscribe(PEOPLE["spam"], list_name="news", consent=ConsentMethod.IMPORTED, source="x")
    store.ingest([message_for(CORPORATE_HARD, PEOPLE["hard"])])
    store.ingest([message_for(MAILBOX_FULL, PEOPLE["spam"])])
    store.erase(PEOPLE["hard"], source="ticket-1")
    with store.read() as session:
        remaining = session.scalars(select(DeliveryOutcome)).all()
        states = session.scalar(select(func.count()).select_from(BounceState))
        entry = session.scalars(select(AuditEntry).where(AuditEntry.tag == "subject:erase")).one()
    assert [r.domain for r in remaining] == ["corp-two.example"]
    assert states == 1
    assert entry.details["delivery_outcomes_removed"] == 1


def test_a_state_found_under_an_older_key_is_rewritten_under_the_primary(
    store: Vault, clock: FixedClock
) -> None:
    store.ingest([message_for(CORPORATE_HARD, PEOPLE["hard"])])
    old_key = store.keys.suppression.primary_key_id
    store.keyring.add_version(Purpose.SUPPRESSION)
    store.use_keyring(store.keyring)
    clock.advance(timedelta(days=1))
    store.ingest([message_for(MAILBOX_FULL, PEOPLE["hard"])])
    with store.read() as session:
        state = session.scalars(select(BounceState)).one()
    assert state.key_id == store.keys.suppression.primary_key_id != old_key
    assert state.first_hard_bounce_on is not None and state.soft_count == 1


def test_parser_workers_reach_the_same_outcome_as_one_process(
    store: Vault, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    # Forty copies of the mailbox: a hard bounce becomes pending, then suppressed on the
    # next day's run; a soft bounce counts up. Order matters, and the workers must keep it.
    box = mailbox() * 40
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    alone = Vault.open(dataclasses.replace(settings, database_url=url), clock=clock)
    try:
        runs = []
        for vault, workers in ((alone, 1), (store, 2)):
            first = vault.ingest(iter_messages(io.BytesIO(box)), batch_size=100, workers=workers)
            clock.advance(timedelta(days=1))
            second = vault.ingest(iter_messages(io.BytesIO(box)), batch_size=100, workers=workers)
            clock.advance(timedelta(days=-1))
            runs.append([(s.counts(), s.problems) for s in (first, second)])
            assert [c["messages"] for c, _ in runs[-1]] == [320, 320]
    finally:
        alone.close()
    assert runs[0] == runs[1]
    unreadable = "unreadable: no mail header at the start"
    assert runs[1][0][1] == [(3 + 8 * k, unreadable) for k in range(40)]


def test_a_parser_that_stops_leaves_everything_before_it_stored_and_audited(
    store: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = list(iter_messages(io.BytesIO(mailbox())))

    def stops_at_message_6(messages: object, *, workers: int) -> Iterator[ParsedRaw]:
        yield from (parse_raw(one) for one in raw[:5])
        raise ParserStopped(6)

    monkeypatch.setattr(deliveries_ingest, "parse_in_order", stops_at_message_6)
    with pytest.raises(ParserStopped, match="before message 6"):
        store.ingest(raw, batch_size=3, workers=2)
    with store.read() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.tag == "delivery:ingest").order_by(AuditEntry.seq)
        ).all()
        outcomes = session.scalar(select(func.count()).select_from(DeliveryOutcome))
    assert [(e.details["batch"], e.details["messages"], e.details["last"]) for e in entries] == [
        (1, 3, False),
        (2, 2, True),
    ]
    # hard, gmail, spam and full: the four reports among the first five messages
    assert outcomes == 4
