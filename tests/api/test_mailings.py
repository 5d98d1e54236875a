"""Segments, mailings and the release: marketing never sees a local part; the release removes
what is suppressed *at release time*, happens once, and fails closed without its audit entry."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update

from tests.api.client import ApiClient
from vault.audit.models import AuditEntry
from vault.principals.permissions import Role
from vault.store import Vault
from vault.subscribers.models import Subscriber


def _create(marketing: ApiClient, **rules: list[str]) -> str:
    response = marketing.post("/v1/mailings", json={"name": "spring", "list": "news", **rules})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _release(sender: ApiClient, mailing_id: str) -> tuple[list[dict[str, str]], dict[str, int]]:
    response = sender.post(f"/v1/mailings/{mailing_id}/release", json={"reason": "send"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert "summary" in lines[-1], "a complete release ends with its summary line"
    return lines[:-1], lines[-1]["summary"]


def test_marketing_sees_counts_ids_and_domains_only(as_role, news: str) -> None:
    marketing = as_role(Role.MARKETING)
    mailing_id = _create(marketing, include_domains=["example.com", "*.example.com"])
    detail = marketing.get(f"/v1/mailings/{mailing_id}").json()
    assert detail["total"] == 2
    assert {d["domain"]: d["count"] for d in detail["domains"]} == {
        "example.com": 1,
        "mail.example.com": 1,
    }
    page = marketing.get(f"/v1/mailings/{mailing_id}/recipients?limit=1").json()
    assert len(page["items"]) == 1 and set(page["items"][0]) == {"subscriber_id", "domain"}
    rest = marketing.get(f"/v1/mailings/{mailing_id}/recipients?after={page['next']}").json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    for body in (detail, page, rest):
        for local in ("a@", "b@", '"a"', '"b"'):
            assert local not in json.dumps(body)


def test_segment_preview_applies_include_and_exclude(as_role, news: str) -> None:
    preview = as_role(Role.MARKETING).post(
        "/v1/segments/preview",
        json={"list": "news", "include_domains": ["*.example.com", "EXAMPLE.org"]},
    )
    assert preview.status_code == 200
    assert preview.json()["include_domains"] == ["*.example.com", "example.org"]
    assert {d["domain"] for d in preview.json()["domains"]} == {"mail.example.com", "example.org"}
    bad = as_role(Role.MARKETING).post(
        "/v1/segments/preview", json={"list": "news", "include_domains": ["ex*mple.com"]}
    )
    assert bad.status_code == 422 and "domain rule" in bad.json()["detail"]


def test_release_streams_addresses_to_the_sender(as_role, news: str) -> None:
    mailing_id = _create(as_role(Role.MARKETING), exclude_domains=["example.org"])
    lines, summary = _release(as_role(Role.SENDER), mailing_id)
    assert sorted(line["address"] for line in lines) == ["a@example.com", "b@mail.example.com"]
    assert summary == {"released": 2, "suppressed": 0, "undecryptable": 0}


def test_release_excludes_an_address_suppressed_after_the_mailing_was_created(
    as_role, news: str
) -> None:
    mailing_id = _create(as_role(Role.MARKETING))
    # Suppressed afterwards, as a sender reporting a complaint would (scope global), and one
    # for this list only, in another case than it was subscribed with.
    added = as_role(Role.SENDER).post(
        "/v1/suppressions", json={"addresses": ["a@example.com"], "reason": "manual"}
    )
    assert added.json()["added"] == 1
    as_role(Role.SUPPORT).post(
        "/v1/suppressions",
        json={"addresses": ["C@Example.ORG"], "reason": "manual", "list": "news"},
    )
    lines, summary = _release(as_role(Role.SENDER), mailing_id)
    assert [line["address"] for line in lines] == ["b@mail.example.com"]
    assert summary["suppressed"] == 2


def test_a_second_release_needs_a_compliance_override(as_role, news: str, store: Vault) -> None:
    mailing_id = _create(as_role(Role.MARKETING))
    sender = as_role(Role.SENDER)
    _release(sender, mailing_id)
    again = sender.post(f"/v1/mailings/{mailing_id}/release", json={"reason": "again"})
    assert again.status_code == 409 and "override" in again.json()["detail"]
    assert again.headers["content-type"] == "application/problem+json"
    granted = as_role(Role.COMPLIANCE).post(
        f"/v1/mailings/{mailing_id}/override", json={"reason": "outage at the MTA"}
    )
    assert granted.status_code == 200 and granted.json()["status"] == "override_granted"
    lines, _ = _release(sender, mailing_id)
    assert len(lines) == 3
    third = sender.post(f"/v1/mailings/{mailing_id}/release", json={"reason": "more"})
    assert third.status_code == 409, "an override is good for one release"
    with store.read() as session:
        tags = [
            (e.tag, e.role, e.details.get("override_used"))
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == f"mailing:{mailing_id}")
                .order_by(AuditEntry.seq)
            )
        ]
    assert tags == [
        ("mailing:create", "marketing", None),
        ("mailing:release", "sender", False),
        ("mailing:release_report", "sender", None),
        ("mailing:override", "compliance", None),
        ("mailing:release", "sender", True),
        ("mailing:release_report", "sender", None),
    ]


def test_an_undecryptable_row_is_skipped_counted_and_audited(
    as_role, news: str, store: Vault
) -> None:
    mailing_id = _create(as_role(Role.MARKETING))
    with store.write() as session:
        rows = session.scalars(select(Subscriber).order_by(Subscriber.domain)).all()
        # A ciphertext moved to another row: authentic, but bound to the other row.
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == rows[0].id)
            .values(sealed_local_part=rows[1].sealed_local_part)
        )
    lines, summary = _release(as_role(Role.SENDER), mailing_id)
    assert len(lines) == 2 and summary["undecryptable"] == 1
    with store.read() as session:
        report = session.scalars(
            select(AuditEntry).where(AuditEntry.tag == "mailing:release_report")
        ).one()
    assert report.details["undecryptable"] == 1 and report.details["completed"] is True
    assert report.details["address_key_ids"] == [f"{store.keys.cipher.primary_key_id():08x}"]


def test_no_plaintext_when_the_audit_entry_cannot_be_written(
    as_role, news: str, store: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailing_id = _create(as_role(Role.MARKETING))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("audit storage is down")

    monkeypatch.setattr("vault.mailings.release.audit.record", broken)
    response = as_role(Role.SENDER).post(
        f"/v1/mailings/{mailing_id}/release", json={"reason": "send"}
    )
    assert response.status_code == 500
    assert "@" not in response.text
    assert response.headers["content-type"] == "application/problem+json"
    monkeypatch.undo()
    # The failed attempt did not use the mailing up: nothing was released.
    lines, _ = _release(as_role(Role.SENDER), mailing_id)
    assert len(lines) == 3


def test_a_release_that_fails_midway_ends_without_summary_and_is_audited(
    as_role, news: str, store: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailing_id = _create(as_role(Role.MARKETING))

    def broken(*_args: object, **_kwargs: object) -> list[bool]:
        raise OSError("database went away")

    monkeypatch.setattr("vault.mailings.release.suppressed", broken)
    response = as_role(Role.SENDER).post(
        f"/v1/mailings/{mailing_id}/release", json={"reason": "send"}
    )
    assert response.status_code == 200  # the stream had started; its end is the signal
    assert "summary" not in response.text and "@" not in response.text
    with store.read() as session:
        report = session.scalars(
            select(AuditEntry).where(AuditEntry.tag == "mailing:release_report")
        ).one()
    assert report.details["completed"] is False and report.details["error"] == "OSError"
    assert report.details["released"] == 0


def test_release_of_an_unknown_mailing_is_404(as_role) -> None:
    response = as_role(Role.SENDER).post(
        f"/v1/mailings/{uuid.uuid4()}/release", json={"reason": "send"}
    )
    assert response.status_code == 404
