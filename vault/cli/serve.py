"""``mailvault serve``: the HTTP API under uvicorn, with an access log that carries no address,
and the retention purge on its schedule (``--no-purge`` leaves purging to a systemd timer)."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.app import _state


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    demo_principals: Annotated[
        bool,
        typer.Option(
            "--demo-principals",
            help="Demo mode only: (re)create one principal per role and print their tokens.",
        ),
    ] = False,
    no_purge: Annotated[
        bool,
        typer.Option(
            "--no-purge",
            help="Do not run the retention purge every [retention] purge_interval_hours "
            "(run `mailvault purge` from a timer instead).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs, everything under /v1, unsubscribe links at /u/)."""
    import uvicorn

    from vault.api.app import create_app
    from vault.api.logging import log_config
    from vault.errors import ConfigError
    from vault.retention.rules import retention_config
    from vault.store import Vault

    settings = _state(ctx).settings
    # Before anything opens: releases put List-Unsubscribe links under this URL (RFC 8058), so
    # a server without it would send mail recipients cannot unsubscribe from in one click.
    settings.public_base_url()
    if not no_purge:
        retention_config(settings)  # a bad [retention] table stops the start, not the first tick
    store = Vault.open(settings)
    if demo_principals:
        if not settings.demo:
            store.close()
            raise ConfigError("--demo-principals works only in demo mode (--demo)")
        from vault.cli.demo import announce_demo_principals

        announce_demo_principals(store, host=host, port=port)
    app = create_app(store, purge_schedule=not no_purge)
    app.state.keyring_watcher.install_sighup()  # `kill -HUP` reloads the keyring, not the server
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config(), log_level=log_level)
    finally:
        store.close()
