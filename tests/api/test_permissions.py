"""Every (role, endpoint) pair, generated from the permission table and the app's routes:
an allowed role succeeds, a forbidden one gets 403 and changes nothing in the database."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from tests.api.client import ApiClient
from vault.api.app import API_PREFIX
from vault.mailings import services as mailings
from vault.mailings.segments import DomainRules
from vault.models import Base
from vault.principals import services as principals
from vault.principals.permissions import ROLE_PERMISSIONS, Permission, Role, roles_with
from vault.store import Vault
from vault.subscribers import services as subscribers


@dataclass
class Call:
    path: str
    json: Any = None


def _mailing(store: Vault, *, released: bool = False) -> uuid.UUID:
    with store.write() as session:
        found = subscribers.get_list(session, "news")
        mailing = mailings.create(
            session,
            name="m",
            mailing_list=found,
            rules=DomainRules(),
            created_by="test",
            now=store.now(),
        )
        if released:
            mailings.claim_release(session, mailing_id=mailing.id, now=store.now())
        return mailing.id


def _victim(store: Vault, n: int) -> str:
    with store.write() as session:
        principals.create(
            session, keyring=store.keyring, name=f"victim{n}", roles=[Role.SUPPORT], now=store.now()
        )
    return f"victim{n}"


def _address(n: int) -> str:
    return f"user{n}@example.net"


V = API_PREFIX
# (method, route path) -> how to make one valid request; may prepare state. ``n`` is unique.
CASES: dict[tuple[str, str], Callable[[Vault, int], Call]] = {
    ("GET", f"{V}/me"): lambda s, n: Call(f"{V}/me"),
    ("GET", f"{V}/principals"): lambda s, n: Call(f"{V}/principals"),
    ("POST", f"{V}/principals"): lambda s, n: Call(
        f"{V}/principals", {"name": f"p{n}", "roles": ["support"]}
    ),
    ("POST", f"{V}/principals/{{name}}/revoke"): lambda s, n: Call(
        f"{V}/principals/{_victim(s, n)}/revoke"
    ),
    ("POST", f"{V}/lists"): lambda s, n: Call(f"{V}/lists", {"name": f"list{n}"}),
    ("GET", f"{V}/lists"): lambda s, n: Call(f"{V}/lists"),
    ("GET", f"{V}/lists/{{name}}"): lambda s, n: Call(f"{V}/lists/news"),
    ("POST", f"{V}/lists/{{name}}/subscribers"): lambda s, n: Call(
        f"{V}/lists/news/subscribers",
        {"address": _address(n), "consent": "double_opt_in", "source": "form"},
    ),
    ("POST", f"{V}/lists/{{name}}/unsubscribe"): lambda s, n: Call(
        f"{V}/lists/news/unsubscribe", {"address": "a@example.com"}
    ),
    ("POST", f"{V}/lookup"): lambda s, n: Call(f"{V}/lookup", {"address": "a@example.com"}),
    ("POST", f"{V}/subjects/erase"): lambda s, n: Call(
        f"{V}/subjects/erase", {"address": _address(n), "source": "ticket 42"}
    ),
    ("POST", f"{V}/suppressions"): lambda s, n: Call(
        f"{V}/suppressions", {"addresses": [_address(n)], "reason": "manual"}
    ),
    ("POST", f"{V}/suppressions/remove"): lambda s, n: Call(
        f"{V}/suppressions/remove", {"address": "c@example.org", "reason": "manual"}
    ),
    ("POST", f"{V}/suppressions/check"): lambda s, n: Call(
        f"{V}/suppressions/check", {"addresses": ["a@example.com"], "list": None}
    ),
    ("POST", f"{V}/segments/preview"): lambda s, n: Call(
        f"{V}/segments/preview", {"list": "news", "include_domains": ["*.example.com"]}
    ),
    ("POST", f"{V}/mailings"): lambda s, n: Call(
        f"{V}/mailings", {"name": f"m{n}", "list": "news", "exclude_domains": ["example.org"]}
    ),
    ("GET", f"{V}/mailings"): lambda s, n: Call(f"{V}/mailings"),
    ("GET", f"{V}/mailings/{{mailing_id}}"): lambda s, n: Call(f"{V}/mailings/{_mailing(s)}"),
    ("GET", f"{V}/mailings/{{mailing_id}}/recipients"): lambda s, n: Call(
        f"{V}/mailings/{_mailing(s)}/recipients"
    ),
    ("POST", f"{V}/mailings/{{mailing_id}}/override"): lambda s, n: Call(
        f"{V}/mailings/{_mailing(s, released=True)}/override", {"reason": "resend after outage"}
    ),
    ("POST", f"{V}/mailings/{{mailing_id}}/release"): lambda s, n: Call(
        f"{V}/mailings/{_mailing(s)}/release", {"reason": "campaign send"}
    ),
    ("GET", f"{V}/reports/domains"): lambda s, n: Call(f"{V}/reports/domains"),
    ("GET", f"{V}/reports/suppressions"): lambda s, n: Call(f"{V}/reports/suppressions"),
    ("GET", f"{V}/audit"): lambda s, n: Call(f"{V}/audit"),
    ("GET", f"{V}/audit/verify"): lambda s, n: Call(f"{V}/audit/verify"),
}


def api_routes(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) of every operation the app publishes in its OpenAPI."""
    return [
        (method.upper(), path, operation.get("x-permission"))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


def snapshot(store: Vault) -> dict[str, list[tuple[str, ...]]]:
    with store.read() as session:
        return {
            table.name: sorted(
                tuple(repr(v) for v in row) for row in session.execute(select(table))
            )
            for table in Base.metadata.sorted_tables
        }


def test_every_route_has_a_case_and_a_permission(app: FastAPI) -> None:
    routes = api_routes(app)
    assert {(m, p) for m, p, _ in routes} == set(CASES)
    unguarded = [(m, p) for m, p, needed in routes if needed is None]
    assert unguarded == [("GET", f"{V}/me")], "every route but /me must declare a permission"
    declared = {needed for _, _, needed in routes if needed}
    # Every permission in the table guards a route, except the refinement checked in a handler.
    assert set(Permission) - declared == {Permission.SUPPRESSION_REMOVE_PROTECTED}


def test_every_role_against_every_endpoint(
    app: FastAPI, client: ApiClient, tokens: dict[Role, str], store: Vault, news: str
) -> None:
    counter = itertools.count()
    failures: list[str] = []
    for method, path, needed in api_routes(app):
        allowed = set(Role) if needed is None else roles_with(Permission(needed))
        # Forbidden roles first, so the allowed calls' changes cannot hide a forbidden one's.
        for role in sorted(Role, key=lambda r: r in allowed):
            call = CASES[(method, path)](store, next(counter))
            before = snapshot(store)
            response = client.as_(tokens[role]).request(method, call.path, json=call.json)
            where = f"{role} {method} {path}"
            if role in allowed:
                if not 200 <= response.status_code < 300:
                    failures.append(f"{where}: allowed, got {response.status_code} {response.text}")
            else:
                if response.status_code != 403:
                    failures.append(f"{where}: forbidden, got {response.status_code}")
                elif response.headers["content-type"] != "application/problem+json":
                    failures.append(f"{where}: 403 is not problem+json")
                if snapshot(store) != before:
                    failures.append(f"{where}: forbidden, yet the database changed")
    assert not failures, "\n".join(failures)


def test_the_table_matches_the_spec() -> None:
    """SPEC §1 in brief: who may decrypt, who may read the audit log, who manages principals."""
    assert roles_with(Permission.MAILING_RELEASE) == {Role.SENDER}
    assert roles_with(Permission.AUDIT_READ) == {Role.COMPLIANCE}
    assert roles_with(Permission.PRINCIPAL_CREATE) == {Role.ADMIN}
    assert roles_with(Permission.SUPPRESSION_REMOVE_PROTECTED) == {Role.COMPLIANCE}
    assert Permission.REPORT_READ not in ROLE_PERMISSIONS[Role.SENDER]
    assert not ROLE_PERMISSIONS[Role.SUPPORT] & {Permission.MAILING_READ, Permission.LIST_READ}
    assert not ROLE_PERMISSIONS[Role.COMPLIANCE] & {
        Permission.MAILING_RELEASE,
        Permission.SEGMENT_PREVIEW,
    }
    assert list(Permission) == sorted(Permission, key=str), "keep Permission alphabetized"


def test_several_roles_grant_the_union(client: ApiClient, store: Vault) -> None:
    from vault.cli.principals import create_principal

    _, token = create_principal(store, name="both", roles=[Role.MARKETING, Role.SUPPORT])
    me = client.as_(token).get(f"{V}/me").json()
    assert set(me["roles"]) == {"marketing", "support"}
    assert {"list:read", "subscriber:lookup"} <= set(me["permissions"])
