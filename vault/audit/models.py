"""The audit log: hash-chained entries that name ids and digests, never addresses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base, short_text, timestamp, uuid_pk


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[uuid_pk]
    # Position in the chain. Unique, so two writers can never fork the chain: one of them fails.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[timestamp]
    actor: Mapped[short_text]  # "principal:<uuid>" or "cli:<user>"
    role: Mapped[str] = mapped_column(String(40))
    tag: Mapped[str] = mapped_column(String(80), index=True)  # resource:action
    subject: Mapped[str] = mapped_column(String(200))  # ids or digests, never an address
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    key_id: Mapped[int] = mapped_column(Integer)
    prev_mac: Mapped[bytes] = mapped_column(LargeBinary(32))
    mac: Mapped[bytes] = mapped_column(LargeBinary(32))
