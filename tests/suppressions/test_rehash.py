"""Rehash on sight: entries under an older suppression key move to the primary key whenever the
address is seen in plain text, and nothing about a check's answer ever depends on it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vault.addresses import parse_address
from vault.clock import FixedClock
from vault.crypto import Purpose
from vault.keys import services
from vault.store import Vault
from vault.subscribers.models import ConsentMethod
from vault.suppressions import rehash
from vault.suppressions.models import Suppression, SuppressionReason


def entries(store: Vault) -> list[Suppression]:
    with store.read() as session:
        return list(session.scalars(select(Suppression).order_by(Suppression.reason)))


def suppress(
    store: Vault, *raw: str, reason: SuppressionReason = SuppressionReason.COMPLAINT, **kw: Any
) -> None:
    store.suppress([parse_address(a) for a in raw], reason=reason, source="t", **kw)


@pytest.fixture
def rotated(store: Vault) -> tuple[int, int]:
    """Two entries under suppression key v1, then a rotation: returns (old id, new id)."""
    suppress(store, "a@example.com", "b@example.com")
    rotation = services.rotate(store, purpose=Purpose.SUPPRESSION)
    return rotation.previous.id, rotation.new.id


def test_a_check_rehashes_what_it_matched(store: Vault, rotated: tuple[int, int]) -> None:
    old, new = rotated
    answers = store.check(["A@Example.com", "nobody@example.com"])
    assert [a.suppressed for a in answers] == [True, False]
    assert {(e.key_id) for e in entries(store)} == {old, new}
    by_key = sorted(e.key_id for e in entries(store))
    assert by_key.count(new) == 1 and by_key.count(old) == 1
    # ... and the rehashed entry still answers, under the primary key alone.
    assert store.check(["a@example.com"])[0].reason == "complaint"


def test_suppress_subscribe_and_import_rehash(
    store: Vault, rotated: tuple[int, int], tmp_path: Path
) -> None:
    _, new = rotated
    outcome = store.suppress(
        [parse_address("a@example.com")], reason=SuppressionReason.COMPLAINT, source="again"
    )
    assert (outcome.added, outcome.already, outcome.rehashed) == (0, 1, 1)
    store.create_list("news")
    refused = store.subscribe(
        "b@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert refused.outcome == "suppressed"
    assert {e.key_id for e in entries(store)} == {new}
    suppress(store, "c@example.com")  # under the new key; rotate again, then import sees it
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    csv = tmp_path / "in.csv"
    csv.write_text("email\nc@example.com\nd@example.com\n")
    summary = store.import_csv(csv, list_name="news", consent=ConsentMethod.IMPORTED, source="t")
    assert (summary.imported, summary.suppressed) == (1, 1)
    primary = store.keys.suppression.primary_key_id
    assert [e.key_id for e in entries(store) if e.source == "t"].count(primary) == 1


def test_twins_merge_keeping_the_longer_expiry(store: Vault, clock: FixedClock) -> None:
    """The same (address, scope, reason) under two keys, as two writers with different keyrings
    could leave it: the rehash merges them and the merged entry lasts as long as the longer."""
    suppress(store, "a@example.com", reason=SuppressionReason.SOFT_BOUNCE, expires_at=None)
    old_keys = store.keys
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    new_keys = store.keys
    # A second writer that had not reloaded yet... and one that had: write the twin directly.
    with store.write() as session:
        keyed = new_keys.suppression.primary("a@example.com")
        session.add(
            Suppression(
                digest=keyed.digest,
                key_id=keyed.key_id,
                normalization_version=1,
                scope="global",
                reason="soft_bounce",
                source="twin",
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=3),
            )
        )
    assert old_keys.suppression.primary_key_id != new_keys.suppression.primary_key_id
    with store.write() as session:
        assert rehash.rehash_on_sight(session, keys=store.keys, canonicals=["a@example.com"]) == 1
    (merged,) = entries(store)
    assert merged.key_id == new_keys.suppression.primary_key_id
    assert merged.expires_at is None  # the permanent one wins
    clock.advance(timedelta(days=10))
    assert store.check(["a@example.com"])[0].suppressed


def test_a_failing_rehash_never_changes_the_answer(
    store: Vault,
    rotated: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_a: object, **_k: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(rehash, "rehash_on_sight", broken)
    answers = store.check(["a@example.com", "b@example.com", "c@example.com"])
    assert [a.suppressed for a in answers] == [True, True, False]
    assert "rehash on sight skipped (RuntimeError)" in caplog.text
    assert {e.key_id for e in entries(store)} == {rotated[0]}


def test_nothing_to_do_with_one_live_key(store: Vault) -> None:
    suppress(store, "a@example.com")
    with store.write() as session:
        assert rehash.rehash_on_sight(session, keys=store.keys, canonicals=["a@example.com"]) == 0
