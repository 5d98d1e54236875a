"""The HTTP API: ``create_app(store or settings)`` builds the FastAPI application.

Everything lives under ``/v1`` except the one-click unsubscribe link ``/u/{token}``, which
needs no token; OpenAPI is at ``/openapi.json`` and ``/docs``. Routes declare the permission
they need (``vault.api.deps.Allowed``); errors become problem+json in ``vault.api.errors``;
bodies are size-limited in ``vault.api.limits``. With ``purge_schedule`` the retention purge
runs in the background for as long as the application does (``vault.retention.schedule``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from vault.api import errors
from vault.api.deps import permission_of
from vault.api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from vault.api.routes import (
    audit,
    events,
    lists,
    lookup,
    mailings,
    me,
    principals,
    reports,
    subjects,
    subscribers,
    suppressions,
    unsubscribe,
)
from vault.config import Settings
from vault.crypto import Keyring, KeyringWatcher
from vault.deliveries.reports import MAX_MESSAGE_BYTES
from vault.errors import ConfigError
from vault.principals import services as principal_services
from vault.principals.services import Authenticator, Identity
from vault.retention.rules import retention_config
from vault.retention.schedule import PurgeScheduler
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
    events.router,
    reports.router,
    audit.router,
)
#: Routes outside /v1 that need no token: the unsubscribe link recipients follow.
PUBLIC_ROUTERS = (unsubscribe.router,)


def create_app(
    store_or_settings: Vault | Settings,
    *,
    max_body_bytes: int | None = None,
    token_cache_seconds: float | None = None,
    purge_schedule: bool = False,
    purge_interval_seconds: float | None = None,
    keyring_check_seconds: float = 1.0,
) -> FastAPI:
    """The application over an open store (the caller closes it) or over settings (the store
    opens here, once every setting has been checked, and closes at the app's shutdown).

    Releases need ``settings.public_url`` for their ``List-Unsubscribe`` links: without it a
    release fails (500, before anything is decrypted) rather than send mail without them;
    ``mailvault serve`` refuses to start instead. ``purge_schedule`` runs the retention purge
    every ``[retention] purge_interval_hours`` (or ``purge_interval_seconds``, for tests).
    """
    owned = isinstance(store_or_settings, Settings)
    settings = (
        store_or_settings if isinstance(store_or_settings, Settings) else store_or_settings.settings
    )
    # Everything taken from the settings is checked before the store opens, so that a
    # configuration error leaves no store (and no SQLite write lock or pool) open behind it.
    # A bad public URL is a startup error; a missing one only stops releases.
    public_url = settings.public_base_url() if settings.public_url else None
    retention = retention_config(settings) if purge_schedule else None
    api_settings: dict[str, Any] = dict(settings.sections.get("api", {}))
    try:
        max_body = max_body_bytes or int(api_settings.get("max_body_bytes", DEFAULT_MAX_BODY))
        ttl = (
            token_cache_seconds
            if token_cache_seconds is not None
            else float(api_settings.get("token_cache_seconds", 0.5))
        )
    except (TypeError, ValueError):
        raise ConfigError(
            "[api] max_body_bytes must be a whole number and token_cache_seconds a number"
        ) from None
    store = Vault.open(settings) if isinstance(store_or_settings, Settings) else store_or_settings
    scheduler = (
        PurgeScheduler(store, retention, interval_seconds=purge_interval_seconds)
        if retention is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                # Off the event loop: a purge in progress finishes its current batch first.
                await run_in_threadpool(scheduler.stop)
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
    app.state.public_url = public_url
    app.state.purge_scheduler = scheduler
    app.state.authenticator = Authenticator(keyring=store.keyring, lookup=_lookup(store), ttl=ttl)
    app.state.keyring_watcher = _keyring_watcher(app, store, interval=keyring_check_seconds)
    for router in ROUTERS:
        _declare_permissions(router)
        app.include_router(router, prefix=API_PREFIX)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    errors.install(app)
    # A raw bounce may quote the whole original message: that one route takes more.
    larger = {f"{API_PREFIX}/events": max(max_body, MAX_MESSAGE_BYTES)}
    app.add_middleware(BodySizeLimit, max_bytes=max_body, per_path=larger)
    app.add_middleware(KeyringReload, watcher=app.state.keyring_watcher)
    return app


def _keyring_watcher(app: FastAPI, store: Vault, *, interval: float) -> KeyringWatcher:
    """Rotations reach a running server without a restart: the keyring is looked at (one
    ``stat``) at most every ``interval`` seconds from requests, and at once after SIGHUP."""

    def adopt(keyring: Keyring) -> None:
        store.use_keyring(keyring)
        app.state.authenticator.use_keyring(keyring)

    return KeyringWatcher(store.settings, on_change=adopt, current=store.keyring, interval=interval)


class KeyringReload:
    """ASGI middleware: give the keyring watcher its look before each HTTP request."""

    def __init__(self, app: ASGIApp, *, watcher: KeyringWatcher) -> None:
        self.app = app
        self.watcher = watcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.watcher.check()
        await self.app(scope, receive, send)


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
