"""The HTTP API: ``create_app(store or settings)`` builds the FastAPI application.

Everything lives under ``/v1``; OpenAPI is at ``/openapi.json`` and ``/docs``. Routes declare
the permission they need (``vault.api.deps.Allowed``); errors become problem+json in
``vault.api.errors``; bodies are size-limited in ``vault.api.limits``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from vault.api import errors
from vault.api.deps import permission_of
from vault.api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from vault.api.routes import (
    audit,
    lists,
    lookup,
    mailings,
    me,
    principals,
    reports,
    subjects,
    subscribers,
    suppressions,
)
from vault.config import Settings
from vault.principals import services as principal_services
from vault.principals.services import Authenticator, Identity
from vault.store import Vault

API_PREFIX = "/v1"
ROUTERS = (
    me.router,
    principals.router,
    lists.router,
    subscribers.router,
    lookup.router,
    subjects.router,
    suppressions.router,
    mailings.router,
    reports.router,
    audit.router,
)


def create_app(
    store_or_settings: Vault | Settings,
    *,
    max_body_bytes: int | None = None,
    token_cache_seconds: float | None = None,
) -> FastAPI:
    """The application over an open store (the caller closes it) or over settings (the app
    opens the store at startup and closes it at shutdown)."""
    owned = isinstance(store_or_settings, Settings)
    store = (
        Vault.open(store_or_settings)
        if isinstance(store_or_settings, Settings)
        else store_or_settings
    )
    api_settings: dict[str, Any] = dict(store.settings.sections.get("api", {}))
    max_body = max_body_bytes or int(api_settings.get("max_body_bytes", DEFAULT_MAX_BODY))
    ttl = (
        token_cache_seconds
        if token_cache_seconds is not None
        else float(api_settings.get("token_cache_seconds", 0.5))
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                store.close()

    app = FastAPI(
        title="mailvault",
        version="1",
        summary="A privacy-preserving subscriber and suppression store for email senders.",
        description=(
            "Bearer API keys (`Authorization: Bearer mvk_...`); every route states the "
            "permission it needs (`x-permission`). Errors are RFC 9457 problem+json. No "
            "response carries a local part, except the release of a mailing to a sender."
        ),
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.authenticator = Authenticator(keyring=store.keyring, lookup=_lookup(store), ttl=ttl)
    for router in ROUTERS:
        _declare_permissions(router)
        app.include_router(router, prefix=API_PREFIX)
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body)
    return app


def _lookup(store: Vault):  # type: ignore[no-untyped-def]
    def lookup(digests: Any) -> Identity | None:
        with store.read() as session:
            return principal_services.find_active(session, digests=digests)

    return lookup


def _declare_permissions(router: APIRouter) -> None:
    """Show each route's permission in OpenAPI (``x-permission``), where clients, the docs and
    the role x endpoint tests read it."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            needed = route_permission(route)
            if needed is not None and not (route.openapi_extra or {}).get("x-permission"):
                route.openapi_extra = {**(route.openapi_extra or {}), "x-permission": needed}
                route.description = f"{route.description}\n\nNeeds `{needed}`.".strip()


def route_permission(route: APIRoute) -> str | None:
    """The permission a route's dependencies check, if any."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        found = permission_of(dependency.call)
        if found is not None:
            return str(found)
        pending.extend(dependency.dependencies)
    return None
