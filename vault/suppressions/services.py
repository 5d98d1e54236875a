"""Suppressing and checking addresses by keyed digest: the store's answer to "may we mail this?".

A check computes the digest under every live suppression key, so entries written before a key
rotation still match; new entries are always written under the primary key.
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Dialect, delete, or_, select, update
from sqlalchemy.orm import Session

from vault.addresses import NORMALIZATION_VERSION, Address
from vault.crypto import KeySuite
from vault.subscribers.models import Subscriber
from vault.suppressions.models import (
    GLOBAL_SCOPE,
    REASON_PRECEDENCE,
    Suppression,
    SuppressionReason,
)
from vault.suppressions.rehash import rehash_quietly

# Databases bound the number of parameters in one statement (SQLite: 32766); stay well under.
QUERY_CHUNK = 900

# The subscriber status a permanent suppression implies (soft bounces and manual entries change
# nothing; erasure removes the subscriber instead).
_STATUS_FOR_REASON = {
    SuppressionReason.UNSUBSCRIBE: "unsubscribed",
    SuppressionReason.COMPLAINT: "complained",
    SuppressionReason.HARD_BOUNCE: "bounced",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    suppressed: bool
    reason: str | None = None
    scope: str | None = None  # "global", or the id of the list it applies to
    expires_at: datetime | None = None
    # Some matching entry is under an older suppression key: the caller, who holds the plain
    # address, should rehash it on sight (``vault.suppressions.rehash``).
    stale: bool = field(default=False, compare=False)


NOT_SUPPRESSED = CheckResult(suppressed=False)


def scope_of(list_id: uuid.UUID | None) -> str:
    return GLOBAL_SCOPE if list_id is None else str(list_id)


_RANKS = {str(reason): rank for rank, reason in enumerate(REASON_PRECEDENCE)}


def reason_rank(reason: str) -> int:
    """A reason's place in ``REASON_PRECEDENCE`` (0 weighs most); unknown names rank last."""
    return _RANKS.get(reason, len(REASON_PRECEDENCE))


def _active(now: datetime) -> ColumnElement[bool]:
    """Permanent, or not yet expired."""
    return or_(Suppression.expires_at.is_(None), Suppression.expires_at > now)


# The check is the hottest read of all, so it runs as driver SQL: a Core statement's expanding
# ``IN`` spent more time rendering placeholders and processing every bound digest than the
# database spent answering. PostgreSQL takes a batch's digests as one ``bytea[]`` parameter;
# SQLite has no arrays, so it takes them in chunks under its parameter limit (32 766 since
# 3.32, 999 before).
_SELECT = "SELECT digest, key_id, scope, reason, expires_at FROM suppressions WHERE "
_POSTGRESQL_CHECK = _SELECT + (
    "digest = ANY(%(digests)s) AND scope = ANY(%(scopes)s)"
    " AND (expires_at IS NULL OR expires_at > %(now)s)"
)
SQLITE_CHUNK = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 900


@functools.lru_cache(maxsize=32)
def _sqlite_check(digests: int, scopes: int) -> str:
    return _SELECT + (
        f"digest IN ({','.join('?' * digests)}) AND scope IN ({','.join('?' * scopes)})"
        " AND (expires_at IS NULL OR expires_at > ?)"
    )


class _Row(NamedTuple):
    digest: bytes
    key_id: int
    scope: str
    reason: str
    expires_at: Any  # as the driver returns it; ``_Times.load`` makes it a datetime


class _Times(NamedTuple):
    """``expires_at`` to and from the driver, exactly as the ORM column type does it."""

    dump: Callable[[datetime], Any]
    load: Callable[[Any], datetime | None]


@functools.lru_cache(maxsize=8)
def _times(dialect: Dialect) -> _Times:
    column_type = Suppression.__table__.c.expires_at.type.dialect_impl(dialect)
    dump = column_type.bind_processor(dialect)
    load = column_type.result_processor(dialect, None)
    return _Times(dump or (lambda value: value), load or (lambda value: value))


def _matching_rows(
    connection: Connection, digests: list[bytes], scopes: list[str], now: datetime
) -> Iterator[_Row]:
    """The active entries with any of these digests in any of these scopes."""
    bound_now = _times(connection.dialect).dump(now)
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(
            _POSTGRESQL_CHECK, {"digests": digests, "scopes": scopes, "now": bound_now}
        )
        for row in result:
            yield _Row._make(row)
        return
    for start in range(0, len(digests), SQLITE_CHUNK):
        chunk = digests[start : start + SQLITE_CHUNK]
        statement = _sqlite_check(len(chunk), len(scopes))
        for row in connection.exec_driver_sql(statement, (*chunk, *scopes, bound_now)):
            yield _Row._make(row)


def _best(rows: Sequence[_Row], primary_key_id: int, times: _Times) -> CheckResult:
    chosen = min(rows, key=lambda row: (reason_rank(row.reason), row.scope != GLOBAL_SCOPE))
    stale = any(row.key_id != primary_key_id for row in rows)
    return CheckResult(True, chosen.reason, chosen.scope, times.load(chosen.expires_at), stale)


def check_many(
    session: Session | Connection,
    *,
    keys: KeySuite,
    canonicals: Sequence[str],
    list_id: uuid.UUID | None,
    now: datetime,
) -> list[CheckResult]:
    """One answer per canonical address: suppressed globally, or for the given list.

    One digest per live key and distinct address, one statement per batch (a few on SQLite).
    """
    scopes = [GLOBAL_SCOPE] if list_id is None else [GLOBAL_SCOPE, str(list_id)]
    digester = keys.suppression
    unique = dict.fromkeys(canonicals)
    owner: dict[bytes, str] = {}
    for key_id in digester.key_ids:
        digest = digester.function(key_id)
        for canonical in unique:
            owner[digest(canonical.encode("utf-8"))] = canonical
    if not owner:
        return []
    connection = session.connection() if isinstance(session, Session) else session
    found: dict[str, list[_Row]] = {}
    for row in _matching_rows(connection, list(owner), scopes, now):
        found.setdefault(owner[row.digest], []).append(row)
    if not found:
        return [NOT_SUPPRESSED] * len(canonicals)
    times = _times(connection.dialect)
    primary = digester.primary_key_id
    answers = {canonical: _best(rows, primary, times) for canonical, rows in found.items()}
    answer = answers.get
    return [answer(canonical, NOT_SUPPRESSED) for canonical in canonicals]


def check(
    session: Session, *, keys: KeySuite, canonical: str, list_id: uuid.UUID | None, now: datetime
) -> CheckResult:
    return check_many(session, keys=keys, canonicals=[canonical], list_id=list_id, now=now)[0]


def entries_for(
    session: Session, *, keys: KeySuite, canonical: str, now: datetime
) -> list[Suppression]:
    """Every live suppression entry for one address, in any scope (support and subject access)."""
    digests = [keyed.digest for keyed in keys.suppression.all_live(canonical)]
    return list(
        session.scalars(
            select(Suppression)
            .where(Suppression.digest.in_(digests), _active(now))
            .order_by(Suppression.created_at)
        )
    )


@dataclass
class SuppressOutcome:
    added: int = 0
    already: int = 0
    rehashed: int = 0  # entries found under an older key and rewritten under the primary


def suppress_many(
    session: Session,
    *,
    keys: KeySuite,
    addresses: Sequence[Address],
    reason: SuppressionReason,
    source: str,
    list_id: uuid.UUID | None,
    expires_at: datetime | None = None,
    now: datetime,
) -> SuppressOutcome:
    """Suppress a batch of addresses in the caller's transaction. Idempotent per
    (address, scope, reason); a permanent entry is never shortened to an expiring one."""
    scope = scope_of(list_id)
    outcome = SuppressOutcome()
    # Seen in plain text: move this batch's entries off older keys first, so the lookup below
    # finds them under the primary key and the batch never writes a twin.
    outcome.rehashed = rehash_quietly(
        session, keys=keys, canonicals=[a.canonical for a in addresses]
    )
    primary = {a.canonical: keys.suppression.primary(a.canonical) for a in addresses}
    existing: dict[bytes, Suppression] = {}
    all_digests: list[bytes] = []
    by_digest: dict[bytes, str] = {}
    for canonical in primary:
        for keyed in keys.suppression.all_live(canonical):
            all_digests.append(keyed.digest)
            by_digest[keyed.digest] = canonical
    seen: set[str] = set()
    for start in range(0, len(all_digests), QUERY_CHUNK):
        chunk = all_digests[start : start + QUERY_CHUNK]
        for row in session.scalars(
            select(Suppression).where(
                Suppression.digest.in_(chunk),
                Suppression.scope == scope,
                Suppression.reason == str(reason),
            )
        ):
            existing[row.digest] = row
            seen.add(by_digest[row.digest])
    for row in existing.values():
        outcome.already += 1
        if row.expires_at is not None and (expires_at is None or expires_at > row.expires_at):
            row.expires_at = expires_at
    new_rows = [
        Suppression(
            id=uuid.uuid4(),
            digest=keyed.digest,
            key_id=keyed.key_id,
            normalization_version=NORMALIZATION_VERSION,
            scope=scope,
            reason=str(reason),
            source=source[:200],
            created_at=now,
            expires_at=expires_at,
        )
        for canonical, keyed in primary.items()
        if canonical not in seen
    ]
    session.add_all(new_rows)
    outcome.added = len(new_rows)
    status = _STATUS_FOR_REASON.get(reason)
    if status is not None and expires_at is None:
        _mark_subscribers(
            session, keys=keys, canonicals=list(primary), status=status, list_id=list_id, now=now
        )
    session.flush()
    return outcome


def suppress(
    session: Session,
    *,
    keys: KeySuite,
    address: Address,
    reason: SuppressionReason,
    source: str,
    list_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    now: datetime,
) -> bool:
    """Suppress one address; True when a new entry was written."""
    outcome = suppress_many(
        session,
        keys=keys,
        addresses=[address],
        reason=reason,
        source=source,
        list_id=list_id,
        expires_at=expires_at,
        now=now,
    )
    return outcome.added == 1


def _mark_subscribers(
    session: Session,
    *,
    keys: KeySuite,
    canonicals: list[str],
    status: str,
    list_id: uuid.UUID | None,
    now: datetime,
) -> None:
    digests = [k.digest for c in canonicals for k in keys.index.all_live(c)]
    for start in range(0, len(digests), QUERY_CHUNK):
        statement = (
            update(Subscriber)
            .where(Subscriber.index_digest.in_(digests[start : start + QUERY_CHUNK]))
            .where(Subscriber.status == "subscribed")
            .values(status=status, status_changed_at=now, updated_at=now)
        )
        if list_id is not None:
            statement = statement.where(Subscriber.list_id == list_id)
        session.execute(statement)


def remove(
    session: Session,
    *,
    keys: KeySuite,
    canonical: str,
    reasons: Sequence[SuppressionReason],
    list_id: uuid.UUID | None,
) -> int:
    """Delete the entries of the given reasons in one scope; returns how many went."""
    digests = [keyed.digest for keyed in keys.suppression.all_live(canonical)]
    result = session.execute(
        delete(Suppression).where(
            Suppression.digest.in_(digests),
            Suppression.scope == scope_of(list_id),
            Suppression.reason.in_([str(r) for r in reasons]),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
