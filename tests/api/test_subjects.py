"""Data subjects over HTTP (compliance): erasure at ``/v1/erasures`` (and its deprecated alias)
and subject access at ``/v1/subject-access``."""

from __future__ import annotations

from fastapi import FastAPI

from vault.principals.permissions import Role
from vault.store import Vault


def test_erasure_removes_the_subject_and_suppresses_the_address(
    as_role, store: Vault, news: str
) -> None:
    store.record_event({"type": "bounce", "recipient": "c@example.org", "status": "4.2.2"})
    response = as_role(Role.COMPLIANCE).post(
        "/v1/erasures", json={"address": "C@example.org", "source": "ticket 7"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subscribers_removed"] == 1 and body["suppression_added"] is True
    assert body["lists"] == [str(store.get_list("news").id)]
    assert "c@example.org" not in response.text.lower()
    assert store.check(["c@example.org"])[0].reason == "erasure"
    access = store.subject_access("c@example.org")
    assert access["subscriptions"] == [] and access["bounce_state"]["held"] is False


def test_the_old_erase_route_is_the_same_handler_marked_deprecated(
    app: FastAPI, as_role, news: str
) -> None:
    paths = app.openapi()["paths"]
    assert paths["/v1/subjects/erase"]["post"]["deprecated"] is True
    assert not paths["/v1/erasures"]["post"].get("deprecated")
    old = as_role(Role.COMPLIANCE).post(
        "/v1/subjects/erase", json={"address": "b@mail.example.com", "source": "ticket 8"}
    )
    assert old.status_code == 200 and old.json()["subscribers_removed"] == 1


def test_subject_access_echoes_the_address_and_counts_outcomes(
    as_role, store: Vault, news: str
) -> None:
    store.record_event({"type": "bounce", "recipient": "a@example.com", "status": "4.2.2"})
    response = as_role(Role.COMPLIANCE).post(
        "/v1/subject-access", json={"address": "A@example.com"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == "A@example.com" and body["domain"] == "example.com"
    (subscription,) = body["subscriptions"]
    assert subscription["list"] == "news" and subscription["status"] == "subscribed"
    assert subscription["delivery_outcomes"]["by_reason"] == {"mailbox_full": 1}
    assert body["bounce_state"]["held"] is True
    assert "digest" not in response.text
    # Support may look an address up, but a subject-access report is compliance's.
    assert (
        as_role(Role.SUPPORT)
        .post("/v1/subject-access", json={"address": "a@example.com"})
        .status_code
        == 403
    )


def test_invalid_addresses_name_the_problem_only(as_role) -> None:
    for route in ("/v1/subject-access", "/v1/erasures"):
        response = as_role(Role.COMPLIANCE).post(
            route, json={"address": "Zq7Secret@@example.org", "source": "t"}
        )
        assert response.status_code == 422, route
        assert "Zq7Secret" not in response.text
