"""delivery outcomes: one row per bounce, complaint or unsubscribe, without the address

Revision ID: 0300
Revises: 0101
Create Date: 2026-11-23 13:38:03.898128
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vault.db.base

revision: str = "0300"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_outcomes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscriber_id", sa.Uuid(), nullable=True),
        sa.Column("list_id", sa.Uuid(), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("group", sa.String(length=1), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("diagnostic", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", vault.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", vault.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_outcomes")),
    )
    with op.batch_alter_table("delivery_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_outcomes_domain_occurred_at"),
            ["domain", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_outcomes_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_delivery_outcomes_subscriber_id"), ["subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_outcomes_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_outcomes_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_delivery_outcomes_domain_occurred_at"))
    op.drop_table("delivery_outcomes")
