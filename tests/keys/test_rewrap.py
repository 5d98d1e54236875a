"""Rewrap: every row ends under the primary keys, readable and findable, whatever interrupts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select

from tests.conftest import REPO
from vault.addresses import parse_address
from vault.config import Settings
from vault.crypto import Purpose, sealed_key_id
from vault.keys import rewrap as rewrapping
from vault.keys import services
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values

ADDRESSES = [f"Person.{i}@Example{i % 7}.com" for i in range(230)]


def populate(store: Vault, list_name: str = "news", count: int = len(ADDRESSES)) -> None:
    store.create_list(list_name)
    for raw in ADDRESSES[:count]:
        store.subscribe(raw, list_name=list_name, consent=ConsentMethod.SINGLE_OPT_IN, source="t")


def rows(store: Vault) -> list[Subscriber]:
    with store.read() as session:
        return list(session.scalars(select(Subscriber)))


def assert_all_readable_and_findable(store: Vault) -> None:
    """Every row opens to its original local part and is found again by its address."""
    keys = store.keys
    found = {}
    for row in rows(store):
        local = keys.cipher.open(row.sealed_local_part, subscriber_id=row.id, domain=row.domain)
        assert sealed_key_id(row.sealed_local_part) == row.address_key_id
        found[f"{local}@{row.domain}"] = row
    expected = {parse_address(a).deliverable for a in ADDRESSES[: len(found)]}
    assert set(found) == expected
    for raw in found:
        assert (
            store.subscribe(
                raw, list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
            ).outcome
            == "duplicate"
        )


def key_counts(store: Vault) -> tuple[dict[int, int], dict[int, int]]:
    with store.read() as session:
        address = dict(
            session.execute(
                select(Subscriber.address_key_id, func.count()).group_by(Subscriber.address_key_id)
            ).all()
        )
        index = dict(
            session.execute(
                select(Subscriber.index_key_id, func.count()).group_by(Subscriber.index_key_id)
            ).all()
        )
    return address, index


def test_rotate_then_rewrap_moves_every_row(store: Vault) -> None:
    populate(store)
    old_address, old_index = store.keys.cipher.primary_key_id(), store.keys.index.primary_key_id
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rotate(store, purpose=Purpose.INDEX)
    plan = services.rewrap_plan(store)
    assert plan.pending == len(ADDRESSES)
    assert plan.address_rows == {old_address: len(ADDRESSES)}
    assert plan.index_rows == {old_index: len(ADDRESSES)}
    result = services.rewrap(store, batch=50)
    assert (result.rows, result.sealed, result.indexed) == (len(ADDRESSES),) * 3
    assert result.batches == 5 and result.skipped == result.conflicts == result.unreadable == 0
    assert key_counts(store) == (
        {store.keys.cipher.primary_key_id(): len(ADDRESSES)},
        {store.keys.index.primary_key_id: len(ADDRESSES)},
    )
    assert_all_readable_and_findable(store)
    assert services.rewrap(store).rows == 0  # nothing left: a second run is a no-op


def test_rewrap_one_purpose_only(store: Vault) -> None:
    populate(store, count=20)
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rotate(store, purpose=Purpose.INDEX)
    result = services.rewrap(store, purposes={Purpose.INDEX})
    assert (result.rows, result.sealed, result.indexed) == (20, 0, 20)
    assert services.rewrap_plan(store, purposes={Purpose.ADDRESS}).pending == 20
    assert services.rewrap_plan(store, purposes={Purpose.INDEX}).pending == 0


def test_rewrap_is_audited(store: Vault) -> None:
    populate(store, count=10)
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rewrap(store)
    from vault.audit.models import AuditEntry

    with store.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.tag == "key:rewrap")).one()
    assert entry.details["rows"] == 10 and entry.details["finished"] is True
    assert store.verify_audit().ok


class Boom(Exception):
    pass


def test_failure_after_some_batches_then_rerun(store: Vault) -> None:
    """An exception after N committed batches: those stay done, the rerun does the rest."""
    populate(store)
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rotate(store, purpose=Purpose.INDEX)
    batches = 0

    def stop_after_two(_n: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise Boom

    with pytest.raises(Boom):
        services.rewrap(store, batch=40, progress=stop_after_two)
    assert services.rewrap_plan(store).pending == len(ADDRESSES) - 80
    second = services.rewrap(store, batch=40)
    assert second.rows == len(ADDRESSES) - 80  # nothing done twice
    assert services.rewrap_plan(store).pending == 0
    assert_all_readable_and_findable(store)


def test_failure_inside_a_batch_rolls_that_batch_back(
    store: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(store)
    services.rotate(store, purpose=Purpose.ADDRESS)
    calls = 0
    real_seal_many = type(store.keys.cipher).seal_many

    def failing_seal_many(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch of 50, its rows read and opened, none written yet
            raise Boom
        return real_seal_many(self, *args, **kwargs)

    monkeypatch.setattr(type(store.keys.cipher), "seal_many", failing_seal_many)
    with pytest.raises(Boom):
        services.rewrap(store, purposes={Purpose.ADDRESS}, batch=50)
    monkeypatch.undo()
    assert services.rewrap_plan(store, purposes={Purpose.ADDRESS}).pending == len(ADDRESSES) - 50
    assert services.rewrap(store, purposes={Purpose.ADDRESS}).rows == len(ADDRESSES) - 50
    assert_all_readable_and_findable(store)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from vault.config import Settings
    from vault.keys import services
    from vault.store import Vault

    url, keys_dir, passphrase, where, after = sys.argv[1:6]
    store = Vault.open(Settings(database_url=url, keys_dir=keys_dir, kek_passphrase=passphrase))
    count = 0
    cipher_class = type(store.keys.cipher)
    real_seal_many = cipher_class.seal_many

    def seal_many(self, *args, **kwargs):  # once per batch
        global count
        count += 1
        if where == "mid-batch" and count == int(after):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_seal_many(self, *args, **kwargs)

    batches = 0

    def progress(n):
        global batches
        batches += 1
        if where == "between-batches" and batches == int(after):
            os.kill(os.getpid(), signal.SIGKILL)

    cipher_class.seal_many = seal_many
    services.rewrap(store, batch=40, progress=progress)
    """
)


@pytest.mark.parametrize(
    ("where", "after", "done"), [("mid-batch", 3, 80), ("between-batches", 3, 120)]
)
def test_rewrap_killed_by_sigkill_then_rerun(
    store: Vault, settings: Settings, where: str, after: int, done: int
) -> None:
    populate(store)
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rotate(store, purpose=Purpose.INDEX)
    store.close()
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLER,
            settings.database_url,
            str(settings.keys_dir),
            str(settings.kek_passphrase),
            where,
            str(after),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    reopened = Vault.open(settings)
    try:
        # Exactly the committed batches are done; the open one left no trace.
        assert services.rewrap_plan(reopened).pending == len(ADDRESSES) - done
        rerun = services.rewrap(reopened, batch=40)
        assert rerun.rows == len(ADDRESSES) - done
        assert services.rewrap_plan(reopened).pending == 0
        assert_all_readable_and_findable(reopened)
    finally:
        reopened.close()


def test_own_key_lists_keep_their_key(store: Vault) -> None:
    services.create_list(store, "private", own_key=True)
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="private", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.subscribe(
        "b@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    own = store.get_list("private").own_key_id
    assert own is not None
    services.rotate(store, purpose=Purpose.ADDRESS)
    assert services.rewrap_plan(store).pending == 1  # only the shared-key row
    assert services.rewrap(store).rows == 1
    by_list = {r.list_id: r.address_key_id for r in rows(store)}
    assert by_list[store.get_list("private").id] == own
    assert by_list[store.get_list("news").id] == store.keys.cipher.primary_key_id()


def test_same_address_under_both_index_keys_is_a_conflict_left_alone(store: Vault) -> None:
    """The batch fails on the (index digest, list) uniqueness as a whole; the rows that can be
    rewritten are, one by one, and the twin is counted and left for a person to look at."""
    populate(store, count=5)
    services.rotate(store, purpose=Purpose.INDEX)
    twin = subscriber_values(
        keys=store.keys,
        list_id=store.get_list("news").id,
        address=parse_address(ADDRESSES[2]),
        consent=ConsentMethod.SINGLE_OPT_IN,
        source="t",
        now=store.now(),
    )
    with store.write() as session:  # a writer that knew the new key and not the old row
        session.add(Subscriber(**twin))
    result = services.rewrap(store)
    assert (result.rows, result.conflicts, result.indexed) == (4, 1, 4)
    assert services.rewrap_plan(store).pending == 1
    assert key_counts(store)[1] == {
        store.keys.index.primary_key_id: 5,
        next(k.id for k in store.keyring.live(Purpose.INDEX) if k.status == "active"): 1,
    }


def test_unreadable_rows_are_reported_and_left(store: Vault) -> None:
    populate(store, count=5)
    services.rotate(store, purpose=Purpose.ADDRESS)
    with store.write() as session:
        row = session.scalars(select(Subscriber).limit(1)).one()
        row.sealed_local_part = row.sealed_local_part[:-1] + bytes([row.sealed_local_part[-1] ^ 1])
    result = services.rewrap(store)
    assert (result.rows, result.unreadable) == (4, 1)
    assert "InvalidCiphertext" in result.problems[0]


def test_batch_size_must_be_positive(store: Vault) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        rewrapping.rewrap(store.session_factory, keys=store.keys, batch=0)
