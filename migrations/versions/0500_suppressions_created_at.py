"""index suppressions.created_at

The policy service re-reads the suppressions created in the last minute every half second;
without this index each of those reads scans the whole table.

Revision ID: 0500
Revises: 0400
Create Date: 2026-11-23 14:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0500"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppressions_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppressions_created_at"))
