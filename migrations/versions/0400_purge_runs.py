"""purge runs

Revision ID: 0400
Revises: 0301
Create Date: 2026-11-23 13:27:16.508951
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vault.db.base

revision: str = "0400"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "purge_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("as_of", vault.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", vault.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", vault.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("audit_entry_id", sa.Uuid(), nullable=True),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_runs")),
    )
    op.create_table(
        "purge_run_classes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("record_class", sa.String(length=60), nullable=False),
        sa.Column("removed", sa.BigInteger(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("oldest_remaining", vault.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["purge_runs.id"],
            name=op.f("fk_purge_run_classes_run_id_purge_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_run_classes")),
        sa.UniqueConstraint(
            "run_id", "record_class", name=op.f("uq_purge_run_classes_run_id_record_class")
        ),
    )


def downgrade() -> None:
    op.drop_table("purge_run_classes")
    op.drop_table("purge_runs")
