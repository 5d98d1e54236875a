"""The suppression list: keyed one-way digests of canonical addresses, never addresses.

An address may be suppressed several times (for a list and globally, or first as a soft bounce
and later as a complaint); each (digest, scope, reason) is one row.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base, digest, short_text, timestamp, uuid_pk

GLOBAL_SCOPE = "global"


class SuppressionReason(StrEnum):
    COMPLAINT = "complaint"
    ERASURE = "erasure"
    HARD_BOUNCE = "hard_bounce"
    MANUAL = "manual"
    SOFT_BOUNCE = "soft_bounce"
    UNSUBSCRIBE = "unsubscribe"


# When an address is suppressed for several reasons, the answer names the weightiest.
REASON_PRECEDENCE: tuple[SuppressionReason, ...] = (
    SuppressionReason.ERASURE,
    SuppressionReason.COMPLAINT,
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.UNSUBSCRIBE,
    SuppressionReason.MANUAL,
    SuppressionReason.SOFT_BOUNCE,
)


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("digest", "scope", "reason"),
        Index(None, "key_id"),
        Index(None, "expires_at"),
        # The policy service's refresher asks for the entries created in the last minute.
        Index(None, "created_at"),
    )

    id: Mapped[uuid_pk]
    digest: Mapped[digest]
    key_id: Mapped[int] = mapped_column(Integer)
    normalization_version: Mapped[int] = mapped_column(SmallInteger)
    # "global", or the id of the one list the suppression applies to.
    scope: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(20))
    source: Mapped[short_text]
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp | None] = mapped_column(default=None)
