"""What every command shares: the settings chosen by the global options, and the open store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from vault.config import Settings
from vault.store import Vault


@dataclass
class State:
    settings: Settings

    def vault(self) -> Vault:
        return Vault.open(self.settings)


def state(ctx: typer.Context) -> State:
    found = ctx.find_root().obj
    assert isinstance(found, State)
    return found


@contextmanager
def open_store(ctx: typer.Context) -> Iterator[Vault]:
    store = state(ctx).vault()
    try:
        yield store
    finally:
        store.close()
