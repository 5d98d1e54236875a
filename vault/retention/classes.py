"""The record classes retention applies to, each with its age column and default period (SPEC §6).

A class says how to find its expired records in batches, delete them, and report the oldest
record left. Areas with personal records of their own add a class to ``RECORD_CLASSES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vault.audit.models import AuditEntry
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.subscribers.models import Subscriber, SubscriberStatus
from vault.suppressions.models import Suppression

_ENDED = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


@dataclass(frozen=True)
class RecordClass:
    name: str
    description: str
    default_days: int
    model: type[Any]
    key: InstrumentedAttribute[Any]  # expired records are deleted by it
    age: InstrumentedAttribute[Any]  # a record is expired when this is older than the cutoff
    where: Sequence[ColumnElement[bool]] = field(default_factory=tuple)
    # Only a class whose remains must stay contiguous takes its batches in key order. The
    # others take whichever expired rows the age index yields first: ordering by key would make
    # the database read and sort every expired row for every batch (quadratic in a large purge).
    in_key_order: bool = False

    def _expired(self, cutoff: datetime) -> list[ColumnElement[bool]]:
        return [self.age < cutoff, *self.where]

    def count_expired(self, session: Session, *, cutoff: datetime) -> int:
        statement = select(func.count()).select_from(self.model).where(*self._expired(cutoff))
        return int(session.scalar(statement) or 0)

    def delete_expired(
        self, session: Session, *, cutoff: datetime, limit: int
    ) -> tuple[int, Any | None]:
        """Delete up to ``limit`` expired records; return how many, and (for a class taken in
        key order) the last key deleted, else None. Nothing left to delete returns (0, None)."""
        expired = self._expired(cutoff)
        chosen = select(self.key).where(*expired).limit(limit)
        if not self.in_key_order:
            # One statement: the keys never travel to Python and back, which in a large purge
            # costs more than the deletion itself.
            if session.get_bind().dialect.name == "postgresql":
                # ``IN (subquery)`` is planned as a semi-join that scans the whole table;
                # ``= ANY(ARRAY(subquery))`` runs the subquery once, then key lookups. The
                # expiry is repeated outside: a row updated while the delete waited for its
                # lock (a subscriber active again, a bounce state just rewritten) is checked
                # again, not deleted on old facts.
                batch = [self.key == any_(func.array(chosen.scalar_subquery())), *expired]
            else:
                # SQLite: the write lock is held from BEGIN IMMEDIATE, so nothing changes in
                # between; repeating the expiry would make it scan the age index per batch.
                batch = [self.key.in_(chosen.scalar_subquery())]
            result = session.execute(delete(self.model).where(*batch))
            return int(result.rowcount), None  # type: ignore[attr-defined]
        keys = list(session.scalars(chosen.order_by(self.key)))
        if not keys:
            return 0, None
        result = session.execute(delete(self.model).where(self.key.in_(keys)))
        return int(result.rowcount), keys[-1]  # type: ignore[attr-defined]

    def oldest(self, session: Session) -> datetime | None:
        value = session.scalar(select(func.min(self.age)).where(*self.where))
        return value if isinstance(value, datetime) else None


SUPPRESSED_SUBSCRIBER = RecordClass(
    name="ended_subscriber",
    description="encrypted address of an unsubscribed, bounced or complained subscriber "
    "(its suppression stays)",
    default_days=30,
    model=Subscriber,
    key=Subscriber.id,
    age=Subscriber.status_changed_at,
    where=(Subscriber.status.in_([str(s) for s in _ENDED]),),
)
INACTIVE_SUBSCRIBER = RecordClass(
    name="inactive_subscriber",
    description="subscriber with no activity",
    default_days=730,
    model=Subscriber,
    key=Subscriber.id,
    age=Subscriber.last_activity_at,
    where=(Subscriber.status == str(SubscriberStatus.SUBSCRIBED),),
)
AUDIT_ENTRY = RecordClass(
    name="audit_entry",
    description="audit log entry (holds no addresses)",
    default_days=730,
    model=AuditEntry,
    # Oldest first, by chain position, so what remains is always one unbroken tail of the chain.
    key=AuditEntry.seq,
    age=AuditEntry.at,
    # The newest entry always stays, whatever its age: the next entry links to its MAC and
    # takes the next position, so the chain never restarts from #1.
    where=(AuditEntry.seq < select(func.max(AuditEntry.seq)).scalar_subquery(),),
    in_key_order=True,
)
EXPIRED_SUPPRESSION = RecordClass(
    name="expired_suppression",
    description="temporary suppression past its expiry",
    default_days=0,
    model=Suppression,
    key=Suppression.id,
    age=Suppression.expires_at,
    where=(Suppression.expires_at.is_not(None),),
)

DELIVERY_OUTCOME = RecordClass(
    name="delivery_outcome",
    description="delivery outcome: bounce, complaint or unsubscribe report (holds no address)",
    default_days=180,
    model=DeliveryOutcome,
    key=DeliveryOutcome.id,
    age=DeliveryOutcome.occurred_at,
)
# A bounce state row exists only while nothing has been decided: a suppression, or a success,
# deletes it at once (vault.deliveries.services). What is left is a corporate hard bounce never
# confirmed on another day, or soft bounces that never reached the threshold. 30 days after its
# last report covers the soft window (14 days by default; ``retention_config`` refuses less)
# and a monthly sending rhythm for the confirmation, and matches SPEC §6's 30 days for a
# bounced subscriber's address. Every report rewrites ``updated_at``, so live states stay.
BOUNCE_STATE = RecordClass(
    name="bounce_state",
    description="bounce state that led to no suppression (keyed digest, counts, days)",
    default_days=30,
    model=BounceState,
    key=BounceState.id,
    age=BounceState.updated_at,
)

RECORD_CLASSES: list[RecordClass] = [
    SUPPRESSED_SUBSCRIBER,
    INACTIVE_SUBSCRIBER,
    EXPIRED_SUPPRESSION,
    DELIVERY_OUTCOME,
    BOUNCE_STATE,
    AUDIT_ENTRY,
]


@dataclass(frozen=True)
class NeverStored:
    """A record SPEC §6 gives a deadline that mailvault never writes down, so no purge is due."""

    name: str
    description: str


#: SPEC §6 keeps "a mailing's recipient list" until the mailing completes (+1 day). The release
#: computes the audience from the subscribers table and streams it; no list of recipients, and
#: no copy of the release, is ever stored (the audit entries hold counts and key ids).
NEVER_STORED: list[NeverStored] = [
    NeverStored(
        name="mailing_recipient_list",
        description="mailing recipient list — never stored: each release computes and streams it",
    ),
]


def by_name(name: str) -> RecordClass:
    for record_class in RECORD_CLASSES:
        if record_class.name == name:
            return record_class
    raise KeyError(name)


__all__ = ["NEVER_STORED", "RECORD_CLASSES", "NeverStored", "RecordClass", "by_name"]
