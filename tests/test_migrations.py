"""Migrations reach the models exactly: nothing is left for autogenerate (as `alembic check`)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vault.db import make_engine
from vault.db.migrate import current_revision, head_revision
from vault.models import Base


def test_upgrade_reaches_head_and_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_migration_files_follow_the_naming_rule() -> None:
    from vault.db.migrate import MIGRATIONS_DIR

    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        revision, _, slug = path.stem.partition("_")
        assert revision.isdigit() and len(revision) == 4 and slug, path.name
