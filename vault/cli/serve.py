"""``mailvault serve``: the HTTP API under uvicorn, with an access log that carries no address."""

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
) -> None:
    """Run the HTTP API (OpenAPI at /docs, everything under /v1)."""
    import uvicorn

    from vault.api.app import create_app
    from vault.api.logging import log_config
    from vault.errors import ConfigError
    from vault.store import Vault

    settings = _state(ctx).settings
    store = Vault.open(settings)
    if demo_principals:
        if not settings.demo:
            store.close()
            raise ConfigError("--demo-principals works only in demo mode (--demo)")
        from vault.cli.demo import announce_demo_principals

        announce_demo_principals(store, host=host, port=port)
    app = create_app(store)
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config(), log_level=log_level)
    finally:
        store.close()
