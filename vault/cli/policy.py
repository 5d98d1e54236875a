"""``mailvault policy-server``: the Postfix policy and socketmap service over the store's
suppression list, with its options from the command line over the TOML file's ``[policy]`` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Annotated, Any

import typer

from vault.cli.app import app
from vault.cli.context import state
from vault.config import Settings
from vault.crypto import Keyring, KeyringWatcher, KeySuite
from vault.db.migrate import require_current
from vault.errors import ConfigError
from vault.policy.daemon import DEFAULT_LISTEN, PolicyServer, serve_policy
from vault.policy.responder import DEFAULT_UNAVAILABLE_ACTION, validate_unavailable_action
from vault.policy.scope import ScopeRule
from vault.policy.store_lookup import (
    DEFAULT_MAX_STALENESS,
    DEFAULT_REBUILD_INTERVAL,
    DEFAULT_REFRESH_INTERVAL,
    StoreLookup,
    lookup_engine,
)
from vault.store import Vault, open_keyring_from_settings

__all__ = [
    "PolicyOptions",
    "event_loop_factory",
    "policy_options",
    "policy_server",
    "run_policy_server",
]

log = logging.getLogger("vault.policy.server")

#: How long start-up waits for the first full load before listening anyway (and deferring).
FIRST_LOAD_WAIT = 60.0
_LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class PolicyOptions:
    """Everything ``policy-server`` can be told, with the defaults of docs/postfix.md."""

    listen: str | None = None
    unix: str | None = None
    socketmap_listen: str | None = None
    socketmap_unix: str | None = None
    metrics: str | None = None
    scope_rules: tuple[str, ...] = ()
    unavailable_action: str = DEFAULT_UNAVAILABLE_ACTION
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    rebuild_interval: float = DEFAULT_REBUILD_INTERVAL
    max_staleness: float = DEFAULT_MAX_STALENESS
    log_level: str = "info"

    def parsed_scope_rules(self) -> list[ScopeRule]:
        return [ScopeRule.parse(rule) for rule in self.scope_rules]

    def policy_listen(self) -> str | None:
        """The policy listener: as given, or the default port when no policy socket is named."""
        if self.listen is None and self.unix is None:
            return DEFAULT_LISTEN
        return self.listen


_TEXT = {"listen", "unix", "socketmap_listen", "socketmap_unix", "metrics", "unavailable_action"}
_SECONDS = {"refresh_interval", "rebuild_interval", "max_staleness"}


def policy_options(section: dict[str, Any], **given: Any) -> PolicyOptions:
    """The TOML ``[policy]`` table, overridden by the options given on the command line (None:
    not given). Unknown or mistyped settings are refused by name."""
    known = {f.name for f in fields(PolicyOptions)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [policy]: {', '.join(unknown)}")
    options = PolicyOptions()
    for source, values in (("[policy]", section), ("the command line", given)):
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or (name == "scope_rules" and value == []):
                continue
            changes[name] = _checked(name, value, source)
        options = replace(options, **changes)
    if options.log_level not in _LOG_LEVELS:
        raise ConfigError(f"log_level must be one of: {', '.join(_LOG_LEVELS)}")
    validate_unavailable_action(options.unavailable_action)
    options.parsed_scope_rules()  # refuse a bad rule before anything starts
    if options.max_staleness <= options.refresh_interval:
        raise ConfigError("max_staleness must be longer than refresh_interval")
    return options


def _checked(name: str, value: Any, source: str) -> Any:
    if name in _TEXT or name == "log_level":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} in {source} must be a non-empty string")
        return value
    if name in _SECONDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{name} in {source} must be a positive number of seconds")
        return float(value)
    # scope_rules
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"scope_rules in {source} must be a list of FIELD:VALUE=LIST strings")
    return tuple(value)


@app.command("policy-server")
def policy_server(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option(
            help="Policy delegation on HOST:PORT [default: 127.0.0.1:10040, unless --unix]"
        ),
    ] = None,
    unix: Annotated[str | None, typer.Option(help="Policy delegation on a Unix socket.")] = None,
    socketmap_listen: Annotated[
        str | None, typer.Option(help="Socketmap (suppressed, transport) on HOST:PORT.")
    ] = None,
    socketmap_unix: Annotated[str | None, typer.Option(help="Socketmap on a Unix socket.")] = None,
    metrics: Annotated[
        str | None, typer.Option(help="Prometheus metrics on HOST:PORT (GET /metrics).")
    ] = None,
    scope_rule: Annotated[
        list[str] | None,
        typer.Option(help="FIELD:VALUE=LIST, e.g. sasl_username:bulk=newsletter; repeatable."),
    ] = None,
    unavailable_action: Annotated[
        str | None,
        typer.Option(
            help=f"Reply when the store cannot answer [default: {DEFAULT_UNAVAILABLE_ACTION}]"
        ),
    ] = None,
    refresh_interval: Annotated[
        float | None,
        typer.Option(
            help=f"Seconds between reads of new entries [default: {DEFAULT_REFRESH_INTERVAL:g}]"
        ),
    ] = None,
    rebuild_interval: Annotated[
        float | None,
        typer.Option(
            help=f"Seconds between full reloads (drop removed, expired) "
            f"[default: {DEFAULT_REBUILD_INTERVAL:g}]"
        ),
    ] = None,
    max_staleness: Annotated[
        float | None,
        typer.Option(
            help=f"Defer mail when no read succeeded for this long "
            f"[default: {DEFAULT_MAX_STALENESS:g}]"
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning or error [default: info]")
    ] = None,
) -> None:
    """Answer Postfix's suppression checks (policy delegation, socketmap) until SIGTERM."""
    settings = state(ctx).settings
    section = settings.sections.get("policy", {})
    if not isinstance(section, dict):
        raise ConfigError("[policy] in the configuration file must be a table")
    options = policy_options(
        section,
        listen=listen,
        unix=unix,
        socketmap_listen=socketmap_listen,
        socketmap_unix=socketmap_unix,
        metrics=metrics,
        scope_rules=scope_rule,
        unavailable_action=unavailable_action,
        refresh_interval=refresh_interval,
        rebuild_interval=rebuild_interval,
        max_staleness=max_staleness,
        log_level=log_level,
    )
    run_policy_server(settings, options)


def run_policy_server(settings: Settings, options: PolicyOptions) -> None:
    """Open the store for reading, load the suppression list, serve until SIGTERM or SIGINT."""
    logging.basicConfig(
        stream=sys.stderr,
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the schema check's chatter
    store = _open_store(settings)
    lookup = StoreLookup(
        store,
        refresh_interval=options.refresh_interval,
        rebuild_interval=options.rebuild_interval,
        max_staleness=options.max_staleness,
    )
    try:
        lookup.start()
        if not lookup.wait_loaded(FIRST_LOAD_WAIT):
            log.error("the suppression list is not loaded yet: deferring mail until it is")
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_serve(lookup, options, settings, store))
    finally:
        lookup.stop()
        store.close()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (``pip install 'mailvault[policy]'``): its
    transports answer about 1.5 times as many decisions per second; else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _open_store(settings: Settings) -> Vault:
    # The policy service only reads; its engine notices outages quickly (lookup_engine).
    keyring = open_keyring_from_settings(settings)
    engine = lookup_engine(settings.database_url)
    try:
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return Vault(settings=settings, engine=engine, keyring=keyring)


async def _serve(
    lookup: StoreLookup, options: PolicyOptions, settings: Settings, store: Vault
) -> None:
    loop = asyncio.get_running_loop()
    watcher = KeyringWatcher(
        settings, on_change=partial(_use_keyring, store, lookup), current=store.keyring
    )
    # Without a handler SIGHUP would kill the process; operators send it to reload things.
    loop.add_signal_handler(signal.SIGHUP, reload_on_sighup, lookup, watcher)
    watching = asyncio.create_task(_watch_keyring(watcher))

    def ready(server: PolicyServer) -> None:
        log.info("policy server ready (event loop: %s)", type(loop).__module__.split(".")[0])

    try:
        await serve_policy(
            lookup,
            listen=options.policy_listen(),
            unix=options.unix,
            socketmap_listen=options.socketmap_listen,
            socketmap_unix=options.socketmap_unix,
            metrics=options.metrics,
            scope_rules=options.parsed_scope_rules(),
            unavailable_action=options.unavailable_action,
            ready=ready,
        )
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        loop.remove_signal_handler(signal.SIGHUP)


def reload_on_sighup(lookup: StoreLookup, watcher: KeyringWatcher) -> None:
    """SIGHUP: reload the keyring (if it changed) and the whole suppression list, now."""
    log.info("SIGHUP: reloading the keyring and the suppression list")
    watcher.request_reload()
    lookup.request_rebuild()


async def _watch_keyring(watcher: KeyringWatcher) -> None:
    # Opening a keyring stretches the passphrase (Argon2id): never on the event loop.
    while True:
        try:
            await asyncio.to_thread(watcher.check)
        except Exception as exc:
            log.error("keyring check failed: %s; keeping the keys in use", type(exc).__name__)
        await asyncio.sleep(watcher.interval)


def _use_keyring(store: Vault, lookup: StoreLookup, ring: Keyring) -> None:
    store.use_keyring(ring)
    lookup.replace_store_keys(KeySuite.from_keyring(ring))
