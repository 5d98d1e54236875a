import pytest
from sqlalchemy import select

from vault.addresses import parse_address
from vault.crypto import sealed_key_id
from vault.errors import Conflict, InvalidAddress, NotFound
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, ConsentRecord, MailingList, Subscriber
from vault.suppressions.models import Suppression, SuppressionReason


@pytest.fixture
def news(store: Vault) -> MailingList:
    return store.create_list("news")


def test_subscriber_row_layout(store: Vault, news: MailingList) -> None:
    result = store.subscribe(
        "Kijitora@Bücher.example",
        list_name="news",
        consent=ConsentMethod.DOUBLE_OPT_IN,
        source="signup form",
    )
    assert result.outcome == "created"
    with store.read() as session:
        row = session.get(Subscriber, result.subscriber_id)
        assert row is not None
        assert row.domain == "xn--bcher-kva.example"
        assert row.id.version == 4
        assert sealed_key_id(row.sealed_local_part) == row.address_key_id
        assert (
            store.keys.cipher.open(row.sealed_local_part, subscriber_id=row.id, domain=row.domain)
            == "Kijitora"
        )
        assert row.index_digest == store.keys.index.primary("kijitora@xn--bcher-kva.example").digest
        assert (row.consent_method, row.consent_source, row.consent_at) == (
            "double_opt_in",
            "signup form",
            store.now(),
        )
        assert row.status == "subscribed"


def test_duplicate_in_any_case(store: Vault, news: MailingList) -> None:
    store.subscribe(
        "kiji@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    again = store.subscribe(
        "KIJI@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert again.outcome == "duplicate"
    assert store.domain_counts(list_name="news") == [("example.com", 1)]


def test_suppressed_address_is_refused(store: Vault, news: MailingList) -> None:
    store.suppress(
        [parse_address("kiji@example.com")], reason=SuppressionReason.COMPLAINT, source="fbl"
    )
    result = store.subscribe(
        "kiji@example.com", list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="t"
    )
    assert result.outcome == "suppressed" and result.reason == "complaint"
    assert store.domain_counts() == []


def test_double_opt_in_lifts_unsubscribe_only(store: Vault, news: MailingList) -> None:
    store.subscribe(
        "kiji@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.unsubscribe("kiji@example.com", list_name="news", source="link")
    single = store.subscribe(
        "kiji@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert single.outcome == "suppressed"
    double = store.subscribe(
        "kiji@example.com",
        list_name="news",
        consent=ConsentMethod.DOUBLE_OPT_IN,
        source="confirmed",
    )
    assert double.outcome == "resubscribed" and double.lifted == 1
    assert not store.check(["kiji@example.com"], list_name="news")[0].suppressed
    with store.read() as session:
        events = [
            r.event
            for r in session.scalars(
                select(ConsentRecord).order_by(ConsentRecord.at, ConsentRecord.event)
            )
        ]
    assert sorted(events) == ["granted", "withdrawn"]


def test_unsubscribe_changes_status_and_suppresses_for_the_list(
    store: Vault, news: MailingList
) -> None:
    store.create_list("offers")
    store.subscribe(
        "kiji@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.subscribe(
        "kiji@example.com", list_name="offers", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert store.unsubscribe("kiji@example.com", list_name="news", source="link")
    assert store.domain_counts(list_name="news") == []
    assert store.domain_counts(list_name="offers") == [("example.com", 1)]


def test_erase_removes_everywhere_and_leaves_erasure(store: Vault, news: MailingList) -> None:
    store.create_list("offers")
    for name in ("news", "offers"):
        store.subscribe(
            "kiji@example.com", list_name=name, consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
    store.unsubscribe("kiji@example.com", list_name="news", source="link")
    result = store.erase("Kiji@Example.com", source="ticket 42")
    assert result.subscribers_removed == 2
    with store.read() as session:
        assert session.scalars(select(Subscriber)).all() == []
        assert session.scalars(select(ConsentRecord)).all() == []
        reasons = sorted(r.reason for r in session.scalars(select(Suppression)))
    assert reasons == ["erasure", "unsubscribe"]
    assert store.check(["kiji@example.com"])[0].reason == "erasure"
    refused = store.subscribe(
        "kiji@example.com", list_name="offers", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert refused.outcome == "suppressed"


def test_domain_counts(store: Vault, news: MailingList) -> None:
    for address in ("a@example.com", "b@example.com", "c@example.org"):
        store.subscribe(address, list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t")
    assert store.domain_counts(list_name="news") == [("example.com", 2), ("example.org", 1)]


def test_errors_are_named(store: Vault, news: MailingList) -> None:
    with pytest.raises(NotFound, match="no list named 'nope'"):
        store.subscribe(
            "a@example.com", list_name="nope", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
    with pytest.raises(Conflict, match="already exists"):
        store.create_list("news")
    with pytest.raises(InvalidAddress, match="no @"):
        store.subscribe("nobody", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t")
