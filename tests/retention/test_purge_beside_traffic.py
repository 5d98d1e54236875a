"""A purge in small batches while a batch check and a release run in other threads: both keep
answering, and answer right (the release gives exactly the unsuppressed audience)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select

from tests.conftest import PUBLIC_URL
from tests.retention.test_purge_process import ended_subscribers
from vault.addresses import parse_address
from vault.audit.services import Actor
from vault.clock import FixedClock
from vault.config import Settings
from vault.db.bulk import insert_many
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.mailings import release as releases
from vault.mailings import services as mailings
from vault.mailings.segments import DomainRules
from vault.models import Base
from vault.retention.purge import run_purge
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.subscribers.services import subscriber_values
from vault.suppressions.models import SuppressionReason

LIVE = 1500
OLD = 1500


def live_list(store: Vault) -> list[str]:
    mailing_list = store.create_list("live")
    addresses = [f"reader{i}@example.org" for i in range(LIVE)]
    rows = [
        subscriber_values(
            keys=store.keys,
            list_id=mailing_list.id,
            address=parse_address(address),
            consent=ConsentMethod.DOUBLE_OPT_IN,
            source="t",
            now=store.now(),
        )
        for address in addresses
    ]
    with store.write() as session:
        insert_many(session.connection(), Base.metadata.tables["subscribers"], rows)
    return addresses


def old_outcomes_and_states(store: Vault, n: int, *, days_ago: int) -> None:
    then = store.now() - timedelta(days=days_ago)
    outcomes = [
        {
            "id": uuid.uuid4(),
            "subscriber_id": None,
            "list_id": None,
            "domain": "example.net",
            "status": "5.7.1",
            "reason": "blocked",
            "group": "N",
            "action": "domain",
            "source": "event",
            "diagnostic": None,
            "occurred_at": then,
            "recorded_at": then,
        }
        for _ in range(n)
    ]
    states = [
        {
            "id": uuid.uuid4(),
            "digest": store.keys.suppression.primary(f"old{i}@example.net").digest,
            "key_id": store.keys.suppression.primary_key_id,
            "normalization_version": 1,
            "first_hard_bounce_on": then.date(),
            "soft_count": 0,
            "window_started_at": None,
            "last_soft_bounce_on": None,
            "updated_at": then,
        }
        for i in range(n)
    ]
    with store.write() as session:
        session.execute(insert(DeliveryOutcome), outcomes)
        session.execute(insert(BounceState), states)


def count(store: Vault, model: type) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_purge_beside_a_batch_check_and_a_release(store: Vault, clock: FixedClock) -> None:
    ended_subscribers(store, OLD, days_ago=40, now=store.now())
    old_outcomes_and_states(store, OLD, days_ago=200)
    addresses = live_list(store)
    # Suppressed now (manual: the subscriber stays "subscribed", only the check excludes them),
    # and suppressions that have expired (purged meanwhile, and not suppressing either way).
    store.suppress(
        [parse_address(a) for a in addresses[::10]], reason=SuppressionReason.MANUAL, source="t"
    )
    store.suppress(
        [parse_address(a) for a in addresses[5::10]],
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=store.now() + timedelta(days=1),
    )
    clock.advance(timedelta(days=2))
    expected_released = LIVE - len(addresses[::10])
    probes = addresses[:300]
    expected_check = [i % 10 == 0 for i in range(300)]
    with store.write() as session:
        mailing = mailings.create(
            session,
            name="beside a purge",
            mailing_list=store.get_list("live"),
            rules=DomainRules(),
            created_by="test",
            now=store.now(),
        )

    failures: list[str] = []
    done = threading.Event()
    purging = threading.Event()
    releasing = threading.Event()
    checks = 0
    batches_during_release = 0
    released: list[releases.Recipient] = []
    report = releases.ReleaseReport()

    def checker() -> None:
        nonlocal checks
        while not done.is_set():
            try:
                answers = [a.suppressed for a in store.check(probes, list_name="live")]
            except Exception as exc:
                failures.append(f"check: {type(exc).__name__}: {exc}")
                return
            if answers != expected_check:
                failures.append("check: wrong answer")
            checks += 1

    def releaser() -> None:
        purging.wait(60)  # start once the purge is under way
        releasing.set()
        try:
            actor = Actor("test", "sender")
            ticket = releases.start(store, actor=actor, mailing_id=mailing.id, reason="send")
            for batch in releases.recipients(
                store, ticket, report, public_url=PUBLIC_URL, batch_size=50
            ):
                released.extend(batch)
            report.completed = True
            releases.finish(store, actor=actor, ticket=ticket, report=report)
        except Exception as exc:
            failures.append(f"release: {type(exc).__name__}: {exc}")
        finally:
            releasing.clear()

    def purge_batch(_removed: int) -> None:
        nonlocal batches_during_release
        purging.set()
        batches_during_release += releasing.is_set()

    threads = [threading.Thread(target=checker), threading.Thread(target=releaser)]
    for thread in threads:
        thread.start()
    try:
        small = retention_config(Settings(sections={"retention": {"batch_size": 50}}), environ={})
        run_purge(store, small, progress=purge_batch)
    finally:
        purging.set()
        threads[1].join(timeout=120)
        done.set()
        threads[0].join(timeout=60)
    assert failures == []
    assert checks > 0
    assert batches_during_release > 0, "the purge and the release did overlap"
    assert report.completed and report.undecryptable == 0
    assert report.released == len(released) == expected_released
    assert {r.address for r in released} == set(addresses) - set(addresses[::10])
    assert all(r.list_unsubscribe.startswith(f"<{PUBLIC_URL}/u/") for r in released)
    # The purge did its work meanwhile.
    assert count(store, DeliveryOutcome) == 0 and count(store, BounceState) == 0
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == LIVE
