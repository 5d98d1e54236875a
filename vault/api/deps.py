"""Request dependencies: the store, the authenticated principal, and permission checks.

A route states the permission it needs with ``Allowed(Permission.X)``; the check runs before
the route reads anything, so a role that may not gets 403 and learns nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from vault.api.errors import NotAuthenticated
from vault.audit.services import Actor
from vault.errors import PermissionDenied
from vault.principals.permissions import Permission, Role, roles_with
from vault.principals.services import Authenticator, Identity, looks_like_token
from vault.store import Vault

_bearer = HTTPBearer(auto_error=False, description="An API token (mvk_...) from an admin.")


def get_store(request: Request) -> Vault:
    store = request.app.state.store
    assert isinstance(store, Vault)
    return store


Store = Annotated[Vault, Depends(get_store)]


async def current_identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    if credentials is None:
        raise NotAuthenticated("this endpoint needs an API token: Authorization: Bearer mvk_...")
    token = credentials.credentials
    if not looks_like_token(token):
        raise NotAuthenticated("the bearer token is not a mailvault API token")
    authenticator: Authenticator = request.app.state.authenticator
    key, identity = authenticator.cached(token)
    if identity is None:  # a database round trip: off the event loop
        identity = await run_in_threadpool(authenticator.resolve, token, key)
    if identity is None:
        raise NotAuthenticated("the API token is unknown or revoked")
    return identity


CurrentPrincipal = Annotated[Identity, Depends(current_identity)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal calling a route, with the role that grants the route's permission."""

    identity: Identity
    role: Role
    permission: Permission

    @property
    def actor(self) -> Actor:
        return Actor(name=f"principal:{self.identity.id}", role=str(self.role))

    def may(self, permission: Permission) -> bool:
        return permission in self.identity.permissions


def Allowed(permission: Permission) -> Any:
    """``Annotated[Caller, Allowed(Permission.X)]``: 403 unless a role grants ``permission``."""

    async def check(identity: CurrentPrincipal) -> Caller:
        role = identity.role_for(permission)
        if role is None:
            holders = ", ".join(sorted(roles_with(permission))) or "no role"
            raise PermissionDenied(f"{permission} needs the role {holders}")
        return Caller(identity, role, permission)

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def permission_of(call: Any) -> Permission | None:
    """The permission a dependency checks (used by the route table tests and the docs)."""
    found = getattr(call, "permission", None)
    return found if isinstance(found, Permission) else None
