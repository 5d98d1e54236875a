"""The audit log over the API: every change is an entry naming the principal and its role; a
tampered entry is named by ``/v1/audit/verify``."""

from __future__ import annotations

from sqlalchemy import delete, update

from vault.audit.models import AuditEntry
from vault.principals.permissions import Role
from vault.store import Vault


def test_changes_are_audited_with_principal_and_role(as_role, news: str, store: Vault) -> None:
    as_role(Role.MARKETING).post("/v1/lists", json={"name": "offers"})
    as_role(Role.SUPPORT).post("/v1/lists/news/unsubscribe", json={"address": "a@example.com"})
    page = as_role(Role.COMPLIANCE).get("/v1/audit?tag=list:create").json()
    created = [e for e in page["entries"] if e["actor"].startswith("principal:")]
    assert len(created) == 1 and created[0]["role"] == "marketing"
    unsubscribed = as_role(Role.COMPLIANCE).get("/v1/audit?tag=subscriber:unsubscribe").json()
    assert unsubscribed["entries"][-1]["role"] == "support"
    assert "a@example.com" not in str(unsubscribed)


def test_paging(as_role, news: str) -> None:
    compliance = as_role(Role.COMPLIANCE)
    first = compliance.get("/v1/audit?limit=2").json()
    assert len(first["entries"]) == 2 and first["next"] == first["entries"][-1]["seq"]
    second = compliance.get(f"/v1/audit?limit=2&after={first['next']}").json()
    assert second["entries"][0]["seq"] == first["next"] + 1


def test_verify_names_an_edited_entry(as_role, news: str, store: Vault) -> None:
    compliance = as_role(Role.COMPLIANCE)
    assert compliance.get("/v1/audit/verify").json()["ok"] is True
    with store.write() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(role="admin"))
    report = compliance.get("/v1/audit/verify").json()
    assert report["ok"] is False and report["first_broken_seq"] == 5
    assert "edited" in report["detail"]


def test_verify_names_a_removed_entry(as_role, news: str, store: Vault) -> None:
    with store.write() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    report = as_role(Role.COMPLIANCE).get("/v1/audit/verify").json()
    assert report["ok"] is False and report["first_broken_seq"] == 3
