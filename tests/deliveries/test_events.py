"""JSON delivery events: validation (pure) and the same decision path as parsed messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import START
from vault.bounces import Action, Reason
from vault.clock import FixedClock
from vault.deliveries import EventType, parse_event, parse_event_json, report_from_event
from vault.deliveries.models import DeliveryOutcome, OutcomeSource
from vault.errors import InputError, NotFound
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

RECIPIENT = "Secret.Person@Acme-Corp.example"


def event(**fields: object) -> dict[str, object]:
    return {"type": "bounce", "recipient": RECIPIENT} | fields


def test_a_full_event_parses() -> None:
    parsed = parse_event_json(
        b'{"type": "bounce", "recipient": "Secret.Person@Acme-Corp.example", "status": "5.1.1",'
        b' "diagnostic": "550 5.1.1 no such user", "occurred_at": "2026-03-01T08:00:00Z",'
        b' "list": "news"}'
    )
    assert parsed.type is EventType.BOUNCE
    assert parsed.recipient.canonical == "secret.person@acme-corp.example"
    assert parsed.occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert (parsed.status, parsed.list) == ("5.1.1", "news")
    assert "Secret" not in repr(parsed)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "JSON object"),
        ({"recipient": RECIPIENT}, "needs type"),
        (event(type="bounced"), "type must be one of"),
        ({"type": "bounce"}, "needs recipient"),
        (event(recipient=42), "recipient must be a string"),
        (event(recipient="Secret.Person"), "recipient: the address has no @"),
        (event(status="5.1"), "RFC 3463"),
        (event(status="2.0.0"), "success"),
        (event(type="deferred", status="2.0.0"), "success"),
        (event(occurred_at="yesterday"), "ISO 8601"),
        (event(occurred_at="2026-03-01T08:00:00"), "time zone"),
        (event(extra=1, another=2), "unknown field(s) in the delivery event: another, extra"),
    ],
)
def test_bad_events_name_the_problem_and_never_the_address(data: object, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_event(data)
    assert problem in str(caught.value)
    assert "secret" not in str(caught.value).lower()


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(InputError, match="JSON"):
        parse_event_json(b"\xff\xfe not json")
    with pytest.raises(InputError, match="at most"):
        parse_event_json(b" " * (64 * 1024 + 1))


def test_events_are_classified_like_dsns() -> None:
    now = START
    hard = report_from_event(parse_event(event(status="5.1.1")), now=now)
    assert (hard.reason, hard.action, hard.source) == (
        Reason.USER_UNKNOWN,
        Action.CONFIRM,
        OutcomeSource.EVENT,
    )
    spam = report_from_event(
        parse_event(event(status="5.7.1", diagnostic="550 5.7.1 message rejected as spam")),
        now=now,
    )
    assert spam.action is Action.DOMAIN
    full = report_from_event(parse_event(event(status="4.2.2")), now=now)
    assert full.action is Action.COUNT
    complaint = report_from_event(parse_event(event(type="complaint")), now=now)
    assert (complaint.reason, complaint.action) == (Reason.COMPLAINT, Action.SUPPRESS)
    delivered = report_from_event(parse_event(event(type="delivered")), now=now)
    assert delivered.delivered and delivered.occurred_at == now


def test_a_deferral_never_suppresses_outright() -> None:
    deferred = report_from_event(
        parse_event(event(type="deferred", status="4.1.1", diagnostic="user unknown")), now=START
    )
    assert deferred.action is Action.COUNT


def test_an_event_from_the_future_is_refused() -> None:
    later = (START + timedelta(hours=1)).isoformat()
    with pytest.raises(InputError, match="future"):
        report_from_event(parse_event(event(occurred_at=later)), now=START)
    soon = (START + timedelta(minutes=4)).isoformat()
    assert report_from_event(parse_event(event(occurred_at=soon)), now=START)


def test_record_event_uses_occurred_at_for_the_day(store: Vault, clock: FixedClock) -> None:
    yesterday = (clock.now() - timedelta(days=1)).isoformat()
    first = store.record_event(event(status="5.1.1", occurred_at=yesterday))
    assert first.taken == "pending"
    second = store.record_event(event(status="5.1.1"))
    assert second.taken == "suppressed" and second.suppression == "hard_bounce"
    assert store.check([RECIPIENT])[0].reason == "hard_bounce"


def test_record_event_links_the_subscriber_on_the_named_list(store: Vault) -> None:
    store.create_list("news")
    offers = store.create_list("offers")
    store.subscribe(RECIPIENT, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="f")
    on_offers = store.subscribe(
        RECIPIENT, list_name="offers", consent=ConsentMethod.DOUBLE_OPT_IN, source="f"
    )
    decision = store.record_event(event(status="4.2.2", list="offers"))
    assert decision.subscriber_id == on_offers.subscriber_id
    by_id = store.record_event(event(type="complaint", list=str(offers.id)))
    assert by_id.subscriber_id == on_offers.subscriber_id
    with pytest.raises(NotFound):
        store.record_event(event(list="nope"))


def test_a_success_with_nothing_to_reset_writes_nothing(store: Vault) -> None:
    from vault.audit.models import AuditEntry

    decision = store.record_event(event(type="delivered"))
    assert decision.taken == "ignored"
    with store.read() as session:
        assert session.scalars(select(AuditEntry)).all() == []
        assert session.scalars(select(DeliveryOutcome)).all() == []


def test_every_stored_event_is_audited(store: Vault) -> None:
    from vault.audit.models import AuditEntry

    decision = store.record_event(event(type="complaint"))
    with store.read() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert entry.tag == "delivery:event"
    assert entry.subject == f"outcome:{decision.outcome_id}"
    assert entry.details["suppression"] == "complaint"
    assert "secret" not in f"{entry.subject}{entry.details}".lower()
