"""bounce states: pending hard bounces and soft-bounce counts, keyed by suppression digest

Revision ID: 0301
Revises: 0300
Create Date: 2026-11-23 13:38:03.898128
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vault.db.base

revision: str = "0301"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bounce_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("normalization_version", sa.SmallInteger(), nullable=False),
        sa.Column("first_hard_bounce_on", sa.Date(), nullable=True),
        sa.Column("soft_count", sa.Integer(), nullable=False),
        sa.Column("window_started_at", vault.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_soft_bounce_on", sa.Date(), nullable=True),
        sa.Column("updated_at", vault.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_states")),
        sa.UniqueConstraint("digest", name=op.f("uq_bounce_states_digest")),
    )
    with op.batch_alter_table("bounce_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bounce_states_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bounce_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bounce_states_updated_at"))
    op.drop_table("bounce_states")
