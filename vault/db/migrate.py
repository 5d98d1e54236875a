"""Running Alembic from mailvault itself, so ``mailvault db upgrade`` works in any directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from vault.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser reads "%" as interpolation, and URLs carry %-escapes (search_path options).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that is missing or behind the code, with the fix named."""
    current, head = current_revision(engine), head_revision(engine)
    if current is None:
        raise ConfigError(
            "the database has no mailvault schema yet; "
            "run `mailvault init` (or `mailvault db upgrade`)"
        )
    if current != head:
        raise ConfigError(
            f"the database schema is at {current} but this mailvault needs {head}; "
            "run `mailvault db upgrade`"
        )
