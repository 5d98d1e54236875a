from datetime import timedelta

import pytest
from sqlalchemy import select

from vault.addresses import parse_address
from vault.clock import FixedClock
from vault.store import Vault
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import Suppression, SuppressionReason


def addresses(*raw: str):
    return [parse_address(a) for a in raw]


def test_suppress_then_check(store: Vault) -> None:
    store.suppress(
        addresses("Kijitora@Example.com"), reason=SuppressionReason.UNSUBSCRIBE, source="t"
    )
    answers = store.check(["kijitora@example.com", "KIJITORA@EXAMPLE.COM", "other@example.com"])
    assert [a.suppressed for a in answers] == [True, True, False]
    assert answers[0].reason == "unsubscribe"
    assert answers[0].scope == "global"


def test_rows_hold_digest_key_and_version_only(store: Vault) -> None:
    store.suppress(
        addresses("kijitora@example.com"), reason=SuppressionReason.COMPLAINT, source="fbl"
    )
    with store.read() as session:
        row = session.scalars(select(Suppression)).one()
    assert len(row.digest) == 32
    assert row.key_id == store.keys.suppression.primary_key_id
    assert row.normalization_version == 1
    assert b"kijitora" not in row.digest


def test_suppress_is_idempotent(store: Vault) -> None:
    first = store.suppress(
        addresses("a@example.com", "b@example.com"), reason=SuppressionReason.MANUAL, source="t"
    )
    again = store.suppress(
        addresses("a@example.com", "c@example.com"), reason=SuppressionReason.MANUAL, source="t"
    )
    assert (first.added, first.already) == (2, 0)
    assert (again.added, again.already) == (1, 1)


def test_list_scope(store: Vault) -> None:
    store.create_list("news")
    store.create_list("offers")
    store.suppress(
        addresses("a@example.com"),
        reason=SuppressionReason.UNSUBSCRIBE,
        source="t",
        list_name="news",
    )
    assert not store.check(["a@example.com"])[0].suppressed  # global check only
    news = store.check(["a@example.com"], list_name="news")[0]
    assert news.suppressed and news.scope == "list:news"
    assert not store.check(["a@example.com"], list_name="offers")[0].suppressed


def test_weightiest_reason_is_reported(store: Vault) -> None:
    store.suppress(addresses("a@example.com"), reason=SuppressionReason.UNSUBSCRIBE, source="t")
    store.suppress(addresses("a@example.com"), reason=SuppressionReason.COMPLAINT, source="t")
    assert store.check(["a@example.com"])[0].reason == "complaint"


def test_expiring_suppression(store: Vault, clock: FixedClock) -> None:
    until = clock.now() + timedelta(days=30)
    store.suppress(
        addresses("a@example.com"),
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=until,
    )
    answer = store.check(["a@example.com"])[0]
    assert answer.suppressed and answer.expires_at == until
    clock.advance(timedelta(days=30, seconds=1))
    assert not store.check(["a@example.com"])[0].suppressed


def test_permanent_entry_is_never_shortened(store: Vault, clock: FixedClock) -> None:
    store.suppress(addresses("a@example.com"), reason=SuppressionReason.MANUAL, source="t")
    store.suppress(
        addresses("a@example.com"),
        reason=SuppressionReason.MANUAL,
        source="t",
        expires_at=clock.now() + timedelta(days=1),
    )
    clock.advance(timedelta(days=2))
    assert store.check(["a@example.com"])[0].suppressed


def test_batch_check_handles_many_and_invalid(store: Vault) -> None:
    many = [f"user{i}@example.com" for i in range(2500)]
    store.suppress(addresses(*many[::7]), reason=SuppressionReason.HARD_BOUNCE, source="t")
    answers = store.check([*many, "not-an-address"])
    assert [a.suppressed for a in answers[:-1]] == [i % 7 == 0 for i in range(2500)]
    assert answers[-1].error == "the address has no @"


def test_check_after_suppression_key_rotation(store: Vault) -> None:
    store.suppress(addresses("old@example.com"), reason=SuppressionReason.COMPLAINT, source="t")
    store.keyring.add_version(store.keyring.primary(store.keys.suppression.purpose).purpose)
    store.use_keyring(store.keyring)
    store.suppress(addresses("new@example.com"), reason=SuppressionReason.COMPLAINT, source="t")
    assert [a.suppressed for a in store.check(["old@example.com", "new@example.com"])] == [
        True,
        True,
    ]


def test_suppression_marks_subscribers(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.suppress(addresses("a@example.com"), reason=SuppressionReason.HARD_BOUNCE, source="dsn")
    assert store.domain_counts(list_name="news") == []


@pytest.mark.parametrize("reason", list(SuppressionReason))
def test_every_reason_round_trips(store: Vault, reason: SuppressionReason) -> None:
    store.suppress(addresses("a@example.com"), reason=reason, source="t")
    assert store.check(["a@example.com"])[0].reason == reason
