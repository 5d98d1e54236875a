"""Errors as RFC 9457 problem+json: 404/405, 413 for bodies over the limit (declared or
streamed), 422 for malformed bodies that never echo what was sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.api.client import ApiClient, api_client
from tests.canary import CANARY, CANARY_LOCAL, assert_absent
from vault.api.app import create_app
from vault.principals.permissions import Role
from vault.store import Vault

PROBLEM = "application/problem+json"


def _is_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith("urn:mailvault:problem:")
    return body


def test_unknown_route_and_method(client: ApiClient) -> None:
    _is_problem(client.get("/v1/nothing-here"), 404)
    _is_problem(client.get("/v1/lookup"), 405)


def test_declared_body_over_the_limit_is_413(store: Vault, tokens: dict[Role, str]) -> None:
    with api_client(create_app(store, max_body_bytes=1024)) as client:
        response = client.as_(tokens[Role.SENDER]).post(
            "/v1/suppressions/check", json={"addresses": ["x@example.com"] * 200}
        )
    _is_problem(response, 413)


def test_streamed_body_over_the_limit_is_413(store: Vault, tokens: dict[Role, str]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"addresses": ['
        for _ in range(100):
            yield b'"someone@example.com",' * 10

    with api_client(create_app(store, max_body_bytes=4096)) as client:
        response = client.as_(tokens[Role.SENDER]).post(
            "/v1/suppressions/check", content=chunks(), headers={"content-type": "application/json"}
        )
    _is_problem(response, 413)


def test_a_batch_check_takes_up_to_ten_thousand(as_role) -> None:
    sender = as_role(Role.SENDER)
    ok = sender.post("/v1/suppressions/check", json={"addresses": ["a@b.example"] * 10_000})
    assert ok.status_code == 200 and len(ok.json()["results"]) == 10_000
    too_many = sender.post("/v1/suppressions/check", json={"addresses": ["a@b.example"] * 10_001})
    _is_problem(too_many, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"address": CANARY, CANARY: 1},  # an extra key that is an address
        {"address": CANARY, "consent": CANARY, "source": "form"},  # a bad enum value
        {"address": [CANARY], "consent": "single_opt_in", "source": "form"},  # wrong type
        {"address": CANARY, "consent": "single_opt_in", "source": f"mailed by {CANARY}"},
        {"address": CANARY, "consent": "single_opt_in", "source": CANARY_LOCAL * 20},  # too long
    ],
)
def test_malformed_bodies_are_422_and_never_echoed(as_role, news: str, body: dict) -> None:
    response = as_role(Role.MARKETING).post("/v1/lists/news/subscribers", json=body)
    problem = _is_problem(response, 422)
    assert problem["errors"] and all({"loc", "msg", "type"} == set(e) for e in problem["errors"])
    assert_absent(response.text, "a 422 response")


def test_broken_json_is_422_and_never_echoed(as_role) -> None:
    response = as_role(Role.SUPPORT).post(
        "/v1/lookup",
        content=f'{{"address": "{CANARY}"'.encode(),
        headers={"content-type": "application/json"},
    )
    _is_problem(response, 422)
    assert_absent(response.text, "a 422 response")


def test_invalid_address_names_the_problem_not_the_address(as_role) -> None:
    response = as_role(Role.SUPPORT).post("/v1/lookup", json={"address": f"{CANARY_LOCAL}@@x"})
    problem = _is_problem(response, 422)
    assert "more than one @" in problem["detail"] or "@" in problem["detail"]
    assert_absent(json.dumps(problem), "an invalid-address problem")


def test_support_may_not_lift_a_complaint_compliance_may(as_role) -> None:
    as_role(Role.SENDER).post(
        "/v1/suppressions", json={"addresses": ["x@example.com"], "reason": "complaint"}
    )
    body = {"address": "x@example.com", "reason": "complaint"}
    _is_problem(as_role(Role.SUPPORT).post("/v1/suppressions/remove", json=body), 403)
    removed = as_role(Role.COMPLIANCE).post("/v1/suppressions/remove", json=body)
    assert removed.status_code == 200 and removed.json() == {"removed": 1}


def test_unsubscribe_answers_the_same_for_members_and_strangers(as_role, news: str) -> None:
    support = as_role(Role.SUPPORT)
    member = support.post("/v1/lists/news/unsubscribe", json={"address": "a@example.com"})
    stranger = support.post("/v1/lists/news/unsubscribe", json={"address": "zz@example.com"})
    assert member.status_code == stranger.status_code == 200
    assert member.json() == stranger.json()
