"""Which rows use which key: the columns that hold each purpose's key ids, counted.

A key version may be retired only when nothing counted here still names it. Areas that keep key
ids in tables of their own (API tokens, say) add their column with ``register_usage``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vault.audit.models import AuditEntry
from vault.crypto import Purpose
from vault.deliveries.models import BounceState
from vault.principals.models import Principal
from vault.subscribers.models import Subscriber
from vault.suppressions.models import Suppression

Column = InstrumentedAttribute[Any]

_USAGE: dict[Purpose, list[Column]] = {
    Purpose.ADDRESS: [Subscriber.address_key_id],
    Purpose.AUDIT: [AuditEntry.key_id],
    Purpose.INDEX: [Subscriber.index_key_id],
    Purpose.SUPPRESSION: [Suppression.key_id, BounceState.key_id],
    # Unsubscribe links are sealed with token keys too, but live in mailboxes, not rows: see
    # SECURITY.md before retiring a token key.
    Purpose.TOKEN: [Principal.token_key_id],
}


def register_usage(purpose: Purpose, column: Column) -> None:
    """Declare one more column that holds key ids of ``purpose``."""
    if column not in _USAGE[purpose]:
        _USAGE[purpose].append(column)


def columns(purpose: Purpose) -> list[Column]:
    return list(_USAGE[purpose])


def column_name(column: Column) -> str:
    return f"{column.class_.__tablename__}.{column.key}"


def rows_by_key(session: Session, purpose: Purpose) -> dict[int, dict[str, int]]:
    """key id -> {"table.column": rows} for every column of the purpose (one GROUP BY each)."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    for column in _USAGE[purpose]:
        for key_id, count in session.execute(select(column, func.count()).group_by(column)):
            found[int(key_id)][column_name(column)] = int(count)
    return dict(found)


def rows_using(session: Session, purpose: Purpose, key_id: int) -> dict[str, int]:
    """{"table.column": rows} naming ``key_id``; empty when nothing uses it."""
    found: dict[str, int] = {}
    for column in _USAGE[purpose]:
        count = session.scalar(select(func.count()).where(column == key_id)) or 0
        if count:
            found[column_name(column)] = int(count)
    return found
