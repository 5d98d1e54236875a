"""Purge runs and their per-class counts: the evidence a purge leaves behind (no addresses)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.db.base import Base, timestamp, uuid_pk


class PurgeRun(Base):
    __tablename__ = "purge_runs"

    id: Mapped[uuid_pk]
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))  # running, completed
    # Every rule is applied as of this instant, also when a crashed run is resumed later, so
    # a resumed run removes exactly what an uninterrupted one would have.
    as_of: Mapped[timestamp]
    started_at: Mapped[timestamp]
    finished_at: Mapped[timestamp | None] = mapped_column(default=None)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rules in force, for the report
    audit_entry_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    trigger: Mapped[str] = mapped_column(String(40))  # "cli:<user>", "schedule", "api:<id>"

    classes: Mapped[list[PurgeRunClass]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="PurgeRunClass.record_class"
    )


class PurgeRunClass(Base):
    __tablename__ = "purge_run_classes"
    __table_args__ = (UniqueConstraint("run_id", "record_class"),)

    id: Mapped[uuid_pk]
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("purge_runs.id", ondelete="CASCADE"))
    record_class: Mapped[str] = mapped_column(String(60))
    removed: Mapped[int] = mapped_column(BigInteger, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    oldest_remaining: Mapped[timestamp | None] = mapped_column(default=None)
    # Audit entries only: the last chain position deleted so far. Kept here, under the row's
    # lock, so that a resumed run or a second process records the whole cut, not its own part.
    removed_through: Mapped[int | None] = mapped_column(BigInteger, default=None)

    run: Mapped[PurgeRun] = relationship(back_populates="classes")
