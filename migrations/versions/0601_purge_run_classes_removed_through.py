"""purge_run_classes.removed_through

The last audit-chain position a purge run deleted, kept with the class's counts under the same
row lock: a resumed run, or a second process sharing the run, then records the whole cut in its
final `retention:purge` entry instead of only its own part of it.

Revision ID: 0601
Revises: 0600
Create Date: 2026-11-23 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0601"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purge_run_classes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_through", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purge_run_classes", schema=None) as batch_op:
        batch_op.drop_column("removed_through")
