import pytest
from sqlalchemy import delete, select, update

from vault.audit.models import AuditEntry
from vault.store import Vault
from vault.subscribers.models import ConsentMethod


@pytest.fixture
def busy_store(store: Vault) -> Vault:
    store.create_list("news")
    for i in range(5):
        store.subscribe(
            f"user{i}@example.com",
            list_name="news",
            consent=ConsentMethod.SINGLE_OPT_IN,
            source="t",
        )
    return store


def test_intact_chain_verifies(busy_store: Vault) -> None:
    report = busy_store.verify_audit()
    assert report.ok and report.entries == 6


def test_entries_name_ids_not_addresses(busy_store: Vault) -> None:
    with busy_store.read() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.tag for e in entries] == ["list:create"] + ["subscriber:created"] * 5
    for entry in entries:
        assert "user" not in entry.subject and "user" not in str(entry.details)
        assert entry.actor.startswith("cli:")


def test_edited_entry_is_named(busy_store: Vault) -> None:
    with busy_store.write() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(subject="list:forged"))
    report = busy_store.verify_audit()
    assert not report.ok and report.first_broken_seq == 3 and "edited" in report.describe()


def test_removed_entry_is_named(busy_store: Vault) -> None:
    with busy_store.write() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    report = busy_store.verify_audit()
    assert not report.ok and report.first_broken_seq == 4 and "missing" in report.describe()


def test_reordered_entries_are_named(busy_store: Vault) -> None:
    with busy_store.write() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(seq=-2))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2))
        session.execute(update(AuditEntry).where(AuditEntry.seq == -2).values(seq=3))
    report = busy_store.verify_audit()
    assert not report.ok and report.first_broken_seq == 2
