"""delivery_outcomes.report_digest

A keyed digest of each report's identity (the bounce's Message-ID, or a JSON event's event_id)
with its recipient, so that ingesting the same report again changes nothing. Existing rows keep
NULL: they were recorded before reports had an identity.

Revision ID: 0600
Revises: 0500
Create Date: 2026-11-23 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_delivery_outcomes_report_digest"), ["report_digest"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_outcomes_report_digest"))
        batch_op.drop_column("report_digest")
