"""Tables for lists, subscribers, their consent records and import runs.

A subscriber row holds the domain in plain text and the local part only sealed; the index
digest lets an address be found again without decrypting anything.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.db.base import Base, digest, short_text, timestamp, uuid_pk


class SubscriberStatus(StrEnum):
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class ConsentMethod(StrEnum):
    """How consent was given (SPEC §2.9). A social-media connection is not among them."""

    DOUBLE_OPT_IN = "double_opt_in"
    IMPORTED = "imported"  # imported with evidence, named by the import's source
    SINGLE_OPT_IN = "single_opt_in"
    TRANSACTIONAL = "transactional"


class MailingList(Base):
    __tablename__ = "lists"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[timestamp]
    # Set when the list has its own address key (crypto-shredding by list, a later feature).
    own_key_id: Mapped[int | None] = mapped_column(Integer, default=None)


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        # Digest first: the same index answers "on this list?" and "on any list?" (erasure).
        UniqueConstraint("index_digest", "list_id"),
        Index(None, "domain"),
        Index(None, "address_key_id"),
        Index(None, "status", "status_changed_at"),
    )

    id: Mapped[uuid_pk]
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(255))
    sealed_local_part: Mapped[bytes] = mapped_column(LargeBinary(128))
    address_key_id: Mapped[int] = mapped_column(Integer)
    index_digest: Mapped[digest]
    index_key_id: Mapped[int] = mapped_column(Integer)
    normalization_version: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20))
    status_changed_at: Mapped[timestamp]
    consent_method: Mapped[str] = mapped_column(String(20))
    consent_source: Mapped[short_text]
    consent_at: Mapped[timestamp]
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    last_activity_at: Mapped[timestamp]

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Subscriber(id={self.id}, domain={self.domain!r}, status={self.status!r})"


class ConsentRecord(Base):
    """One event in a subscriber's consent history: given, or withdrawn."""

    __tablename__ = "consent_records"

    id: Mapped[uuid_pk]
    subscriber_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(20))  # "granted" or "withdrawn"
    method: Mapped[str] = mapped_column(String(20))
    source: Mapped[short_text]
    at: Mapped[timestamp]

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class ImportRun(Base):
    """Progress of one CSV import, committed with every batch so an interrupted import resumes."""

    __tablename__ = "import_runs"
    __table_args__ = (Index(None, "list_id", "file_sha256"),)

    id: Mapped[uuid_pk]
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    consent_method: Mapped[str] = mapped_column(String(20))
    consent_source: Mapped[short_text]
    status: Mapped[str] = mapped_column(String(20))  # running, completed
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[timestamp]
    finished_at: Mapped[timestamp | None] = mapped_column(default=None)
