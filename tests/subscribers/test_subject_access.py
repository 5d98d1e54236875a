from datetime import timedelta

from vault.addresses import parse_address
from vault.clock import FixedClock
from vault.store import Vault
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import SuppressionReason


def test_everything_about_one_address(store: Vault) -> None:
    store.create_list("news")
    store.create_list("offers")
    store.subscribe(
        "Kiji@Example.com", list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form"
    )
    store.subscribe(
        "kiji@example.com", list_name="offers", consent=ConsentMethod.IMPORTED, source="crm"
    )
    store.unsubscribe("kiji@example.com", list_name="offers", source="link")
    store.suppress(
        [parse_address("kiji@example.com")], reason=SuppressionReason.COMPLAINT, source="fbl"
    )
    store.subscribe(
        "other@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    answer = store.subject_access("KIJI@example.com")
    assert answer["address"] == "KIJI@example.com"
    assert answer["domain"] == "example.com"
    by_list = {s["list"]: s for s in answer["subscriptions"]}
    assert set(by_list) == {"news", "offers"}
    assert by_list["news"]["consent"][0]["method"] == "double_opt_in"
    assert [c["event"] for c in by_list["offers"]["consent"]] == ["granted", "withdrawn"]
    assert by_list["offers"]["status"] == "unsubscribed"
    assert by_list["news"]["status"] == "complained"
    assert sorted((s["reason"], s["scope"]) for s in answer["suppressions"]) == [
        ("complaint", "global"),
        ("unsubscribe", "list:offers"),
    ]


def test_unknown_address_gets_an_empty_account(store: Vault) -> None:
    answer = store.subject_access("nobody@example.org")
    assert answer["subscriptions"] == [] and answer["suppressions"] == []


def test_access_is_audited_without_the_address(store: Vault) -> None:
    store.subject_access("kiji@example.com")
    from sqlalchemy import select

    from vault.audit.models import AuditEntry

    with store.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.tag == "subject:access")).one()
    assert entry.subject == "domain:example.com"
    assert "kiji" not in str(entry.details)


def test_delivery_outcomes_are_counted_per_subscription_and_bounce_state_flagged(
    store: Vault, clock: FixedClock
) -> None:
    store.create_list("news")
    store.create_list("offers")
    for name in ("news", "offers"):
        store.subscribe(
            "kiji@corp.example", list_name=name, consent=ConsentMethod.DOUBLE_OPT_IN, source="f"
        )
        clock.advance(timedelta(seconds=1))  # "news" is the older subscription, not a tie
    store.record_event({"type": "bounce", "recipient": "kiji@corp.example", "status": "4.2.2"})
    store.record_event(
        {"type": "bounce", "recipient": "kiji@corp.example", "status": "5.1.1", "list": "offers"}
    )
    answer = store.subject_access("kiji@corp.example")
    by_list = {s["list"]: s["delivery_outcomes"] for s in answer["subscriptions"]}
    # Without a list an outcome goes to the oldest subscription; with one, to that list's.
    assert by_list["news"]["count"] == 1 and by_list["news"]["by_reason"] == {"mailbox_full": 1}
    assert by_list["offers"]["by_reason"] == {"user_unknown": 1}
    assert by_list["offers"]["last_at"] is not None
    assert answer["bounce_state"]["held"] is True
    assert set(answer["bounce_state"]) == {"held", "updated_at"}  # never the digest
    store.record_event({"type": "delivered", "recipient": "kiji@corp.example"})
    assert store.subject_access("kiji@corp.example")["bounce_state"] == {
        "held": False,
        "updated_at": None,
    }
