"""The action table of SPEC §5 against stored state, with real messages and a fixed clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.deliveries.messages import (
    COMPLAINT,
    CONSUMER_HARD,
    CORPORATE_HARD,
    DELIVERED,
    MAILBOX_FULL,
    SPAM_BLOCK,
    message_for,
)
from vault.clock import FixedClock
from vault.config import Settings
from vault.deliveries import BouncePolicy
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.deliveries.services import bounce_state
from vault.errors import ConfigError
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber

CORP = "pat.lee@acme-corp.example"
GMAIL = "pat.lee.1987@gmail.com"


def ingest(store: Vault, *messages: bytes) -> None:
    summary = store.ingest(list(messages))
    assert summary.unreadable == 0 and summary.messages == len(messages)


def suppressed(store: Vault, address: str) -> str | None:
    answer = store.check([address])[0]
    return answer.reason if answer.suppressed else None


def outcomes(store: Vault) -> list[DeliveryOutcome]:
    with store.read() as session:
        rows = session.scalars(select(DeliveryOutcome).order_by(DeliveryOutcome.recorded_at))
        return list(rows)


def test_corporate_user_unknown_once_is_only_pending(store: Vault) -> None:
    ingest(store, message_for(CORPORATE_HARD, CORP))
    assert suppressed(store, CORP) is None
    [row] = outcomes(store)
    assert (row.domain, row.status, row.reason, row.group, row.action, row.source) == (
        "acme-corp.example",
        "5.1.1",
        "user_unknown",
        "P",
        "pending",
        "dsn",
    )


def test_corporate_user_unknown_twice_the_same_day_is_still_pending(
    store: Vault, clock: FixedClock
) -> None:
    ingest(store, message_for(CORPORATE_HARD, CORP))
    clock.advance(timedelta(hours=10))  # 19:30 UTC, still the same day
    ingest(store, message_for(CORPORATE_HARD, CORP))
    assert suppressed(store, CORP) is None
    assert [o.action for o in outcomes(store)] == ["pending", "pending"]


def test_corporate_user_unknown_on_two_days_suppresses(store: Vault, clock: FixedClock) -> None:
    ingest(store, message_for(CORPORATE_HARD, CORP))
    clock.advance(timedelta(days=1))
    ingest(store, message_for(CORPORATE_HARD, CORP))
    assert suppressed(store, CORP) == "hard_bounce"
    assert [o.action for o in outcomes(store)] == ["pending", "suppressed"]
    with store.read() as session:  # confirmed: nothing left to remember
        assert session.scalar(select(func.count()).select_from(BounceState)) == 0


def test_a_success_between_two_hard_bounces_clears_the_pending_one(
    store: Vault, clock: FixedClock
) -> None:
    ingest(store, message_for(CORPORATE_HARD, CORP))
    clock.advance(timedelta(days=1))
    ingest(store, message_for(DELIVERED, CORP))
    clock.advance(timedelta(days=1))
    ingest(store, message_for(CORPORATE_HARD, CORP))
    assert suppressed(store, CORP) is None


def test_consumer_provider_user_unknown_suppresses_at_once(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(GMAIL, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form")
    ingest(store, message_for(CONSUMER_HARD, GMAIL))
    assert suppressed(store, GMAIL) == "hard_bounce"
    [row] = outcomes(store)
    with store.read() as session:
        subscriber = session.scalars(select(Subscriber)).one()
    assert row.subscriber_id == subscriber.id and row.list_id == subscriber.list_id
    assert subscriber.status == "bounced"


def test_spam_rejection_never_suppresses_and_counts_against_the_domain(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(CORP, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form")
    for _ in range(5):
        ingest(store, message_for(SPAM_BLOCK, CORP))
    assert suppressed(store, CORP) is None
    rows = outcomes(store)
    assert len(rows) == 5
    assert {(r.domain, r.status, r.group, r.action, r.subscriber_id) for r in rows} == {
        ("acme-corp.example", "5.7.1", "N", "domain", None)
    }
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(BounceState)) == 0


def test_arf_complaint_suppresses_as_complaint(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(CORP, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form")
    ingest(store, message_for(COMPLAINT, CORP))
    assert suppressed(store, CORP) == "complaint"
    [row] = outcomes(store)
    assert (row.reason, row.source, row.action) == ("complaint", "arf", "suppressed")
    with store.read() as session:
        assert session.scalars(select(Subscriber.status)).one() == "complained"


def test_soft_bounces_three_in_fourteen_days_suppress_for_thirty_days(
    store: Vault, clock: FixedClock
) -> None:
    start = clock.now()
    for day in (0, 6):
        clock.set(start + timedelta(days=day))
        ingest(store, message_for(MAILBOX_FULL, CORP))
        assert suppressed(store, CORP) is None
    clock.set(start + timedelta(days=13))
    ingest(store, message_for(MAILBOX_FULL, CORP))
    answer = store.check([CORP])[0]
    assert answer.suppressed and answer.reason == "soft_bounce"
    assert answer.expires_at == start + timedelta(days=13 + 30)
    assert [o.action for o in outcomes(store)] == ["counted", "counted", "suppressed"]
    clock.set(start + timedelta(days=13 + 30) - timedelta(seconds=1))
    assert suppressed(store, CORP) == "soft_bounce"
    clock.set(start + timedelta(days=13 + 30))
    assert suppressed(store, CORP) is None


def test_soft_bounces_spread_wider_than_the_window_do_not_suppress(
    store: Vault, clock: FixedClock
) -> None:
    start = clock.now()
    for day in (0, 7, 14, 21):  # day 14 opens a new window: never three in one
        clock.set(start + timedelta(days=day))
        ingest(store, message_for(MAILBOX_FULL, CORP))
    assert suppressed(store, CORP) is None


def test_soft_bounces_on_one_day_count_once(store: Vault, clock: FixedClock) -> None:
    for _ in range(5):  # retries and repeated reports of one bad day
        ingest(store, message_for(MAILBOX_FULL, CORP))
        clock.advance(timedelta(minutes=30))
    assert suppressed(store, CORP) is None
    with store.read() as session:
        state = bounce_state(session, keys=store.keys, canonical=CORP)
        assert state is not None and state.soft_count == 1


def test_a_success_resets_the_soft_count(store: Vault, clock: FixedClock) -> None:
    start = clock.now()
    for day in (0, 1):
        clock.set(start + timedelta(days=day))
        ingest(store, message_for(MAILBOX_FULL, CORP))
    clock.set(start + timedelta(days=2))
    summary = store.ingest([message_for(DELIVERED, CORP)])
    assert summary.tally.by_taken["reset"] == 1
    for day in (3, 4):
        clock.set(start + timedelta(days=day))
        ingest(store, message_for(MAILBOX_FULL, CORP))
    assert suppressed(store, CORP) is None  # 2 since the success, not 4
    clock.set(start + timedelta(days=5))
    ingest(store, message_for(MAILBOX_FULL, CORP))
    assert suppressed(store, CORP) == "soft_bounce"


def test_settings_change_the_soft_rule(settings: Settings, clock: FixedClock) -> None:
    from dataclasses import replace

    custom = replace(
        settings,
        sections={
            "bounces": {"soft_threshold": 2, "soft_window_days": 3, "soft_suppression_days": 7}
        },
    )
    store = Vault.open(custom, clock=clock)
    try:
        start = clock.now()
        ingest(store, message_for(MAILBOX_FULL, CORP))
        clock.set(start + timedelta(days=2))
        ingest(store, message_for(MAILBOX_FULL, CORP))
        assert store.check([CORP])[0].expires_at == start + timedelta(days=2 + 7)
    finally:
        store.close()


@pytest.mark.parametrize(
    "table",
    [
        {"soft_threshold": 0},
        {"soft_window_days": "14"},
        {"soft_suppression_days": True},
        {"threshold": 3},
        "not a table",
    ],
)
def test_bad_bounce_settings_are_refused(table: object) -> None:
    with pytest.raises(ConfigError):
        BouncePolicy.from_sections({"bounces": table})


def test_defaults() -> None:
    assert BouncePolicy.from_sections({}) == BouncePolicy(3, 14, 30)
