"""Each retention rule with a fixed clock: just inside the window stays, just outside goes."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from vault.addresses import parse_address
from vault.audit.models import AuditEntry
from vault.clock import FixedClock
from vault.config import Settings
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.errors import ConfigError
from vault.retention import purge as purge_module
from vault.retention.models import PurgeRun
from vault.retention.purge import run_purge
from vault.retention.reports import purge_reports
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.suppressions.models import Suppression, SuppressionReason

SECOND = timedelta(seconds=1)


def config(**days: int):
    return retention_config(Settings(sections={"retention": dict(days)}), environ={})


def count(store: Vault, model) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_defaults_follow_the_spec() -> None:
    assert config().as_dict() == {
        "ended_subscriber": 30,
        "inactive_subscriber": 730,
        "expired_suppression": 0,
        "delivery_outcome": 180,
        "bounce_state": 30,
        "audit_entry": 730,
    }


def test_configuration_from_toml_and_environment() -> None:
    settings = Settings(sections={"retention": {"ended_subscriber": 7, "batch_size": 50}})
    chosen = retention_config(settings, environ={"MAILVAULT_RETENTION_AUDIT_ENTRY_DAYS": "400"})
    assert chosen.as_dict()["ended_subscriber"] == 7
    assert chosen.as_dict()["audit_entry"] == 400
    assert chosen.batch_size == 50
    with pytest.raises(ConfigError, match="unknown"):
        retention_config(Settings(sections={"retention": {"forever": 1}}), environ={})
    with pytest.raises(ConfigError, match="whole days"):
        retention_config(Settings(sections={"retention": {"audit_entry": "two years"}}), environ={})


def test_ended_subscriber_window(store: Vault, clock: FixedClock) -> None:
    store.create_list("news")
    for name in ("early", "late"):
        store.subscribe(
            f"{name}@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
    store.unsubscribe("early@example.com", list_name="news", source="link")
    clock.advance(SECOND)
    store.unsubscribe("late@example.com", list_name="news", source="link")
    clock.advance(timedelta(days=30))  # early is now 30 days + 1 s old, late exactly 30 days
    run_purge(store, config())
    assert count(store, Subscriber) == 1
    # Suppressions stay when the address goes.
    assert [
        a.suppressed
        for a in store.check(["early@example.com", "late@example.com"], list_name="news")
    ] == [True, True]
    clock.advance(SECOND)
    run_purge(store, config())
    assert count(store, Subscriber) == 0


def test_inactive_subscriber_window(store: Vault, clock: FixedClock) -> None:
    store.create_list("news")
    store.subscribe(
        "old@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    clock.advance(SECOND)
    store.subscribe(
        "new@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    clock.advance(timedelta(days=730))
    run_purge(store, config())
    assert store.domain_counts(list_name="news") == [("example.com", 1)]


def test_expired_suppressions_go_permanent_stay(store: Vault, clock: FixedClock) -> None:
    now = clock.now()
    store.suppress(
        [parse_address("soft@example.com")],
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=now + timedelta(days=30),
    )
    store.suppress(
        [parse_address("later@example.com")],
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=now + timedelta(days=30) + SECOND,
    )
    store.suppress(
        [parse_address("hard@example.com")], reason=SuppressionReason.HARD_BOUNCE, source="t"
    )
    clock.advance(timedelta(days=30) + SECOND)
    run_purge(store, config())
    with store.read() as session:
        reasons = sorted(r.reason for r in session.scalars(select(Suppression)))
    assert reasons == ["hard_bounce", "soft_bounce"]


def test_audit_window_and_the_chain_still_verifies(store: Vault, clock: FixedClock) -> None:
    store.create_list("a")
    clock.advance(SECOND)
    store.create_list("b")
    clock.advance(timedelta(days=730))  # "a" is 730 days + 1 s old, "b" exactly 730 days
    run_purge(store, config())
    with store.read() as session:
        tags = [e.tag for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert tags == ["list:create", "retention:purge"]
    assert store.verify_audit().ok
    clock.advance(timedelta(days=731))
    run_purge(store, config())
    assert store.verify_audit().ok, store.verify_audit().describe()


def test_unrecorded_removal_of_old_entries_is_detected(store: Vault) -> None:
    store.create_list("a")
    store.create_list("b")
    from sqlalchemy import delete

    with store.write() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 1))
    report = store.verify_audit()
    assert not report.ok
    assert "no recorded purge" in report.describe()


def test_dry_run_counts_and_removes_nothing(store: Vault, clock: FixedClock) -> None:
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.unsubscribe("a@example.com", list_name="news", source="link")
    clock.advance(timedelta(days=31))
    run_id = run_purge(store, config(), dry_run=True)
    assert count(store, Subscriber) == 1
    with store.read() as session:
        report = next(r for r in purge_reports(session) if r.run_id == str(run_id))
    assert report.dry_run
    assert {line.record_class: line.removed for line in report.classes}["ended_subscriber"] == 1


def test_report_names_oldest_remaining_and_audit_entry(store: Vault, clock: FixedClock) -> None:
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    created = clock.now()
    clock.advance(timedelta(days=1))
    run_id = run_purge(store, config())
    with store.read() as session:
        report = next(r for r in purge_reports(session) if r.run_id == str(run_id))
        entry = session.get(AuditEntry, __import__("uuid").UUID(report.audit_entry_id))
    lines = {line.record_class: line for line in report.classes}
    assert lines["inactive_subscriber"].oldest_remaining == created
    assert lines["audit_entry"].oldest_remaining == created
    assert entry is not None and entry.tag == "retention:purge"
    assert entry.details["removed"]["ended_subscriber"] == 0


def test_interrupted_run_resumes_with_the_same_counts(
    store: Vault, clock: FixedClock, monkeypatch
) -> None:
    store.create_list("news")
    for i in range(25):
        store.subscribe(
            f"u{i}@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
        store.unsubscribe(f"u{i}@example.com", list_name="news", source="t")
    clock.advance(timedelta(days=31))
    small = retention_config(Settings(sections={"retention": {"batch_size": 4}}), environ={})
    from vault.retention import classes

    real_delete = classes.RecordClass.delete_expired
    calls = {"n": 0}

    def dying_delete(self, session, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_delete(self, session, **kwargs)

    monkeypatch.setattr(classes.RecordClass, "delete_expired", dying_delete)
    with pytest.raises(KeyboardInterrupt):
        run_purge(store, small)
    assert count(store, Subscriber) == 25 - 8
    monkeypatch.setattr(classes.RecordClass, "delete_expired", real_delete)
    clock.advance(timedelta(days=1))  # the resumed run keeps its original as_of
    run_id = run_purge(store, small)
    with store.read() as session:
        runs = session.scalars(select(PurgeRun)).all()
        report = next(r for r in purge_reports(session) if r.run_id == str(run_id))
    assert len(runs) == 1
    assert {line.record_class: line.removed for line in report.classes}["ended_subscriber"] == 25
    assert count(store, Subscriber) == 0


def test_the_newest_audit_entry_anchors_the_chain(store: Vault, clock: FixedClock) -> None:
    for name in ("a", "b", "c"):
        store.create_list(name)
    clock.advance(timedelta(days=1))
    everything = retention_config(Settings(sections={"retention": {"audit_entry": 0}}), environ={})
    run_purge(store, everything)
    with store.read() as session:
        seqs = [e.seq for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert seqs == [3, 4]  # the last list:create stays; the purge entry follows it
    assert store.verify_audit().ok, store.verify_audit().describe()


def test_a_resumed_run_records_the_whole_audit_cut(
    store: Vault, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        store.create_list(name)
    clock.advance(timedelta(days=1))
    everything = retention_config(Settings(sections={"retention": {"audit_entry": 0}}), environ={})
    real_record = purge_module.audit.record

    def dies_before_the_final_entry(session, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("tag") == "retention:purge":
            raise KeyboardInterrupt  # every class is done, the run's own entry not yet written
        return real_record(session, **kwargs)

    monkeypatch.setattr(purge_module.audit, "record", dies_before_the_final_entry)
    with pytest.raises(KeyboardInterrupt):
        run_purge(store, everything)
    monkeypatch.setattr(purge_module.audit, "record", real_record)
    run_purge(store, everything)  # resumes: nothing left to delete, only the entry to write
    verdict = store.verify_audit()
    assert verdict.ok, verdict.describe()


def _event(store: Vault, type_: str, recipient: str, status: str | None = None) -> None:
    event: dict[str, object] = {"type": type_, "recipient": recipient}
    if status:
        event["status"] = status
    store.record_event(event)


def test_delivery_outcome_window(store: Vault, clock: FixedClock) -> None:
    _event(store, "complaint", "early@example.com")
    clock.advance(SECOND)
    _event(store, "complaint", "late@example.com")
    # An outcome ages from when it occurred, not when it was reported.
    store.record_event(
        {
            "type": "bounce",
            "recipient": "reported-late@example.com",
            "status": "5.7.1",
            "occurred_at": (clock.now() - timedelta(days=1)).isoformat(),
        }
    )
    assert count(store, DeliveryOutcome) == 3
    clock.advance(timedelta(days=180))  # early: 180 days + 1 s old; late: exactly 180 days
    run_purge(store, config())
    assert count(store, DeliveryOutcome) == 1
    clock.advance(SECOND)
    run_purge(store, config())
    assert count(store, DeliveryOutcome) == 0
    # The suppressions the complaints made are not outcomes: they stay.
    assert [a.suppressed for a in store.check(["early@example.com", "late@example.com"])] == [
        True,
        True,
    ]


def test_bounce_state_window(store: Vault, clock: FixedClock) -> None:
    _event(store, "bounce", "full@example.com", "4.2.2")  # a soft bounce: counted
    clock.advance(SECOND)
    _event(store, "bounce", "gone@corp.example", "5.1.1")  # corporate hard bounce: pending
    clock.advance(timedelta(days=10))
    _event(store, "bounce", "again@example.com", "4.2.2")
    clock.advance(timedelta(days=20))  # 30 days + 1 s, 30 days, 20 days since the last report
    run_purge(store, config())
    assert count(store, BounceState) == 2
    clock.advance(SECOND)
    run_purge(store, config())
    assert count(store, BounceState) == 1
    # The forgotten corporate bounce starts over: one more on another day is a first one again.
    _event(store, "bounce", "gone@corp.example", "5.1.1")
    assert not store.check(["gone@corp.example"])[0].suppressed


def test_bounce_state_rule_cannot_undercut_the_soft_window() -> None:
    with pytest.raises(ConfigError, match="soft_window_days"):
        config(bounce_state=13)
    settings = Settings(
        sections={"retention": {"bounce_state": 10}, "bounces": {"soft_window_days": 7}}
    )
    assert retention_config(settings, environ={}).as_dict()["bounce_state"] == 10
