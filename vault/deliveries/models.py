"""Tables for delivery outcomes (no addresses) and the per-address bounce state (keyed digests).

An outcome names a subscriber by id when the address matched one, else only the domain; the
bounce state remembers what a later report must know (a pending hard bounce, recent soft ones)
under the suppression digest, so it also works for addresses that are not subscribers.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import (
    Date,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base, digest, timestamp, uuid_pk

#: Redacted diagnostics are cut to this many characters: enough to read the remote's reason,
#: too little to carry a quoted message.
DIAGNOSTIC_CHARS = 500


class OutcomeSource(StrEnum):
    """Where an outcome came from."""

    ARF = "arf"  # a complaint report (RFC 5965), parsed from a raw message
    DSN = "dsn"  # a bounce (RFC 3464 or a non-standard format), parsed from a raw message
    EVENT = "event"  # a JSON delivery event (POST /v1/events)
    UNSUBSCRIBE = "unsubscribe"  # a one-click unsubscribe (RFC 8058)


class Taken(StrEnum):
    """What mailvault did about one report, after looking at the stored bounce state."""

    COUNTED = "counted"  # a temporary failure, counted towards an expiring suppression
    DOMAIN = "domain"  # not the recipient's fault: counted against the domain only
    IGNORED = "ignored"  # an auto-reply or similar: nothing to do, nothing stored
    DUPLICATE = "duplicate"  # the same report was recorded before (re-ingested): nothing done
    PENDING = "pending"  # a hard bounce at a corporate domain, waiting for confirmation
    RESET = "reset"  # a successful delivery: counts and pending confirmations cleared
    SUPPRESSED = "suppressed"  # the address is now suppressed (or already was, for this reason)


class DeliveryOutcome(Base):
    """One report about one recipient: what failed, why, and what was done. No address.

    Kept 180 days (SPEC §6, enforced by the retention work); removed with the subscriber on
    erasure (by ``subscriber_id``). Successes and auto-replies are not stored (see
    ``docs/bounces.md``).
    """

    __tablename__ = "delivery_outcomes"
    __table_args__ = (
        Index(None, "subscriber_id"),
        Index(None, "domain", "occurred_at"),
        Index(None, "occurred_at"),
        Index(None, "report_digest"),
    )

    id: Mapped[uuid_pk]
    # No foreign keys: an outcome outlives a deleted list, and erasure deletes outcomes by id.
    subscriber_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    list_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(16), default=None)  # RFC 3463, "5.1.1"
    reason: Mapped[str] = mapped_column(String(20))  # vault.bounces.Reason, or "unsubscribe"
    group: Mapped[str] = mapped_column(String(1))  # vault.bounces.Group: P, T or N
    action: Mapped[str] = mapped_column(String(12))  # Taken
    source: Mapped[str] = mapped_column(String(12))  # OutcomeSource
    diagnostic: Mapped[str | None] = mapped_column(String(DIAGNOSTIC_CHARS), default=None)
    occurred_at: Mapped[timestamp]
    recorded_at: Mapped[timestamp]
    # Which report this was, so that ingesting the same bounce again changes nothing: a keyed
    # digest (index key) of the report's identity and the recipient, never either in clear.
    # None for reports without an identity (a JSON event without ``event_id``).
    report_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)


class BounceState(Base):
    """What one address's earlier reports left to remember, keyed by its suppression digest.

    A row exists only while something is pending: a first hard bounce at a corporate domain, or
    soft bounces in the current window. It is deleted when the address is suppressed for good,
    when a delivery succeeds, and (later) by retention once ``updated_at`` is old enough.
    """

    __tablename__ = "bounce_states"
    __table_args__ = (
        UniqueConstraint("digest"),
        Index(None, "updated_at"),
    )

    id: Mapped[uuid_pk]
    digest: Mapped[digest]  # HMAC-SHA256 of the canonical address under a suppression key
    key_id: Mapped[int] = mapped_column(Integer)
    normalization_version: Mapped[int] = mapped_column(SmallInteger)
    # The UTC day of the first unconfirmed hard bounce (x.1.1/x.1.2 at a corporate domain).
    first_hard_bounce_on: Mapped[date | None] = mapped_column(Date, default=None)
    soft_count: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[timestamp | None] = mapped_column(default=None)
    # Soft bounces on one UTC day count once, so MTA retries and deferral events cannot add up.
    last_soft_bounce_on: Mapped[date | None] = mapped_column(Date, default=None)
    updated_at: Mapped[timestamp]
