"""Unsubscribing by token through the store: at once, idempotent, audited, forgery changes
nothing."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import func, select

from tests.canary import database_bytes
from vault.audit.models import AuditEntry
from vault.deliveries.models import DeliveryOutcome
from vault.errors import InvalidToken
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, ConsentRecord, Subscriber
from vault.suppressions.models import Suppression

ADDRESS = "Quentin.Reader@Example.org"


@pytest.fixture
def subscribed(store: Vault) -> tuple[uuid.UUID, uuid.UUID]:
    news = store.create_list("news")
    store.create_list("offers")
    result = store.subscribe(
        ADDRESS, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form"
    )
    store.subscribe(ADDRESS, list_name="offers", consent=ConsentMethod.DOUBLE_OPT_IN, source="f")
    assert result.subscriber_id is not None
    return result.subscriber_id, news.id


def counts(store: Vault) -> dict[str, int]:
    with store.read() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (AuditEntry, ConsentRecord, DeliveryOutcome, Suppression)
        }


def test_one_click_unsubscribes_from_that_list_only(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID]
) -> None:
    subscriber_id, list_id = subscribed
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    result = store.unsubscribe_by_token(token)
    assert result.changed and result.subscriber_id == subscriber_id

    assert store.check([ADDRESS], list_name="news")[0].reason == "unsubscribe"
    assert not store.check([ADDRESS], list_name="offers")[0].suppressed
    assert not store.check([ADDRESS])[0].suppressed
    with store.read() as session:
        statuses = {
            r.list_id: r.status
            for r in session.execute(select(Subscriber.list_id, Subscriber.status))
        }
        consent = session.scalars(select(ConsentRecord)).one()
        outcome = session.scalars(select(DeliveryOutcome)).one()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.tag == "subscriber:unsubscribe")
        ).one()
    assert statuses[list_id] == "unsubscribed"
    assert sorted(statuses.values()) == ["subscribed", "unsubscribed"]
    assert (consent.event, consent.source) == ("withdrawn", "one-click")
    assert (outcome.source, outcome.reason, outcome.subscriber_id, outcome.list_id) == (
        "unsubscribe",
        "unsubscribe",
        subscriber_id,
        list_id,
    )
    assert (entry.actor, entry.role, entry.subject) == (
        "one-click",
        "recipient",
        f"subscriber:{subscriber_id}",
    )
    assert entry.details["suppression_added"] is True
    assert store.verify_audit().ok


def test_a_replay_changes_nothing_and_still_succeeds(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID], database_url: str
) -> None:
    subscriber_id, list_id = subscribed
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    store.unsubscribe_by_token(token)
    before = counts(store)
    again = store.unsubscribe_by_token(token)
    other = store.unsubscribe_by_token(
        store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    )
    assert not again.changed and not other.changed
    assert counts(store) == before


def test_a_forged_or_altered_token_changes_nothing(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID]
) -> None:
    subscriber_id, list_id = subscribed
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    before = counts(store)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1
    altered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in (altered, token[:-1], "x" * 87, ""):
        with pytest.raises(InvalidToken):
            store.unsubscribe_by_token(bad)
        with pytest.raises(InvalidToken):
            store.verify_unsubscribe_token(bad)
    assert counts(store) == before
    with store.read() as session:
        assert set(session.scalars(select(Subscriber.status))) == {"subscribed"}


def test_a_token_for_an_erased_subscriber_answers_success_and_changes_nothing(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID]
) -> None:
    subscriber_id, list_id = subscribed
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    store.erase(ADDRESS, source="ticket")
    before = counts(store)
    assert not store.unsubscribe_by_token(token).changed
    assert counts(store) == before


def test_a_valid_token_with_a_mismatched_list_changes_nothing(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID]
) -> None:
    subscriber_id, _ = subscribed
    offers = store.get_list("offers")
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=offers.id)
    before = counts(store)
    assert not store.unsubscribe_by_token(token).changed
    assert counts(store) == before


def test_a_bounced_subscriber_is_still_suppressed_for_the_list(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID]
) -> None:
    subscriber_id, list_id = subscribed
    store.record_event({"type": "complaint", "recipient": ADDRESS})
    token = store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    assert store.unsubscribe_by_token(token).changed
    with store.read() as session:
        reasons = set(session.scalars(select(Suppression.reason)))
        status = session.get(Subscriber, subscriber_id)
        assert status is not None and status.status == "complained"  # the weightier one stays
    assert reasons == {"complaint", "unsubscribe"}


def test_no_address_reaches_the_database(
    store: Vault, subscribed: tuple[uuid.UUID, uuid.UUID], database_url: str
) -> None:
    subscriber_id, list_id = subscribed
    store.unsubscribe_by_token(
        store.unsubscribe_token(subscriber_id=subscriber_id, list_id=list_id)
    )
    dump = database_bytes(database_url).lower()
    assert b"quentin.reader" not in dump
