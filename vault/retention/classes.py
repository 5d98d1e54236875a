"""The record classes retention applies to, each with its age column and default period (SPEC §6).

A class says how to find its expired records in batches, delete them, and report the oldest
record left. Areas with personal records of their own add a class to ``RECORD_CLASSES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vault.audit.models import AuditEntry
from vault.subscribers.models import Subscriber, SubscriberStatus
from vault.suppressions.models import Suppression

_ENDED = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


@dataclass(frozen=True)
class RecordClass:
    name: str
    description: str
    default_days: int
    model: type[Any]
    key: InstrumentedAttribute[Any]  # batches are taken in this order; ids are deleted by it
    age: InstrumentedAttribute[Any]  # a record is expired when this is older than the cutoff
    where: Sequence[ColumnElement[bool]] = field(default_factory=tuple)

    def _expired(self, cutoff: datetime) -> list[ColumnElement[bool]]:
        return [self.age < cutoff, *self.where]

    def count_expired(self, session: Session, *, cutoff: datetime) -> int:
        statement = select(func.count()).select_from(self.model).where(*self._expired(cutoff))
        return int(session.scalar(statement) or 0)

    def expired_keys(self, session: Session, *, cutoff: datetime, limit: int) -> list[Any]:
        statement = select(self.key).where(*self._expired(cutoff)).order_by(self.key).limit(limit)
        return list(session.scalars(statement))

    def delete(self, session: Session, keys: Sequence[Any]) -> int:
        result = session.execute(delete(self.model).where(self.key.in_(keys)))
        return int(result.rowcount)  # type: ignore[attr-defined]

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

RECORD_CLASSES: list[RecordClass] = [
    SUPPRESSED_SUBSCRIBER,
    INACTIVE_SUBSCRIBER,
    EXPIRED_SUPPRESSION,
    AUDIT_ENTRY,
]


def by_name(name: str) -> RecordClass:
    for record_class in RECORD_CLASSES:
        if record_class.name == name:
            return record_class
    raise KeyError(name)


__all__ = ["RECORD_CLASSES", "RecordClass", "by_name"]
