"""Bearer tokens: 401 with a challenge, only a keyed hash at rest, fast to check, and a
revocation that reaches a second server process within a second."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.api.client import ApiClient, api_client
from vault.api.app import create_app
from vault.config import Settings
from vault.principals.models import Principal
from vault.principals.permissions import Role
from vault.principals.services import TOKEN_PREFIX
from vault.store import Vault


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", f"Bearer {TOKEN_PREFIX}{'A' * 43}", "Basic dXNlcjpwdw=="],
)
def test_missing_or_bad_token_is_401_with_a_challenge(
    client: ApiClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.post("/v1/suppressions/check", json={"addresses": []}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(problem) and problem["status"] == 401


def test_only_a_hash_and_a_prefix_are_stored(
    tokens: dict[Role, str], store: Vault, database_url: str
) -> None:
    from tests.canary import database_bytes

    token = tokens[Role.SENDER]
    assert token.startswith(TOKEN_PREFIX) and len(token) >= len(TOKEN_PREFIX) + 43
    with store.read() as session:
        row = session.scalars(select(Principal).where(Principal.name == "test-sender")).one()
    assert token.startswith(row.token_prefix) and len(row.token_prefix) <= 12
    assert token[12:].encode() not in database_bytes(database_url)


def test_authentication_is_a_hash_and_at_most_one_query(
    app, tokens: dict[Role, str], store: Vault
) -> None:
    """No password hashing per request: a cached token costs no database round trip, an
    uncached one a single indexed lookup. (Its speed is measured in bench/api_check.py.)"""
    from sqlalchemy import event

    authenticator = app.state.authenticator
    token = tokens[Role.SENDER]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert authenticator.authenticate(token) is not None
        statements.clear()
        for _ in range(100):
            assert authenticator.authenticate(token) is not None
        assert statements == []
        assert authenticator.resolve(token, b"") is not None
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_revocation_reaches_a_second_server_within_a_second(
    store: Vault, settings: Settings, tokens: dict[Role, str]
) -> None:
    second_store = Vault.open(settings)  # its own engine and pool, as another process has
    try:
        with (
            api_client(create_app(store)) as first,
            api_client(create_app(second_store)) as second,
        ):
            token = tokens[Role.MARKETING]
            assert second.as_(token).get("/v1/me").status_code == 200  # cached there now
            revoked = first.as_(tokens[Role.ADMIN]).post("/v1/principals/test-marketing/revoke")
            assert revoked.status_code == 200
            started = time.monotonic()
            while second.as_(token).get("/v1/me").status_code == 200:
                assert time.monotonic() - started < 1.0, "revoked token still works after 1 s"
                time.sleep(0.02)
            assert first.as_(token).get("/v1/me").status_code == 401
    finally:
        second_store.close()


def test_revoked_name_can_be_reused(as_role, store: Vault) -> None:
    admin = as_role(Role.ADMIN)
    created = admin.post("/v1/principals", json={"name": "hook", "roles": ["sender"]})
    assert created.status_code == 201
    token = created.json()["token"]
    assert (
        admin.post("/v1/principals", json={"name": "hook", "roles": ["sender"]}).status_code == 409
    )
    assert admin.post("/v1/principals/hook/revoke").status_code == 200
    again = admin.post("/v1/principals", json={"name": "hook", "roles": ["sender"]})
    assert again.status_code == 201 and again.json()["token"] != token
    listed = admin.get("/v1/principals?include_revoked=true").json()
    assert [p["name"] for p in listed].count("hook") == 2
    assert all("token" not in p for p in listed)
