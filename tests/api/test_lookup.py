"""Support's lookup: one address in the body, status, consent history and suppressions out."""

from __future__ import annotations

from vault.principals.permissions import Role


def test_lookup_answers_status_consent_and_suppressions(as_role, news: str) -> None:
    support = as_role(Role.SUPPORT)
    support.post("/v1/lists/news/unsubscribe", json={"address": "A@Example.com", "source": "call"})
    answer = support.post("/v1/lookup", json={"address": "a@EXAMPLE.com"}).json()
    assert answer["address"] == "a@EXAMPLE.com"  # echoed as sent, nothing more
    assert answer["suppressed"] is True
    [membership] = answer["subscriptions"]
    assert membership["list"] == "news" and membership["status"] == "unsubscribed"
    assert [c["event"] for c in membership["consent"]] == ["granted", "withdrawn"]
    assert answer["suppressions"][0]["reason"] == "unsubscribe"
    assert answer["suppressions"][0]["scope"] == "list:news"


def test_an_unknown_address_gets_an_empty_answer(as_role, news: str) -> None:
    answer = as_role(Role.SUPPORT).post("/v1/lookup", json={"address": "nobody@example.com"})
    assert answer.status_code == 200
    assert answer.json()["subscriptions"] == [] and answer.json()["suppressions"] == []


def test_no_address_in_urls(app) -> None:  # type: ignore[no-untyped-def]
    """No operation takes an address in its path or query string (they end up in logs)."""
    for path, operations in app.openapi()["paths"].items():
        assert "address" not in path
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert "address" not in parameter["name"], (path, parameter["name"])
