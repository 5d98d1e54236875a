"""Suppressing and checking addresses by keyed digest: the store's answer to "may we mail this?".

A check computes the digest under every live suppression key, so entries written before a key
rotation still match; new entries are always written under the primary key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

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


def reason_rank(reason: str) -> int:
    try:
        return REASON_PRECEDENCE.index(SuppressionReason(reason))
    except ValueError:
        return len(REASON_PRECEDENCE)


class _Entry(Protocol):
    key_id: int
    reason: str
    scope: str
    expires_at: datetime | None


def _best(rows: Sequence[_Entry], primary_key_id: int | None = None) -> CheckResult:
    chosen = min(rows, key=lambda row: (reason_rank(row.reason), row.scope != GLOBAL_SCOPE))
    stale = primary_key_id is not None and any(row.key_id != primary_key_id for row in rows)
    return CheckResult(True, chosen.reason, chosen.scope, chosen.expires_at, stale=stale)


def _active(now: datetime) -> ColumnElement[bool]:
    """Permanent, or not yet expired."""
    return or_(Suppression.expires_at.is_(None), Suppression.expires_at > now)


# Built once: the hot check path binds values into a ready statement instead of constructing
# and compiling a new one per call, and reads plain rows instead of ORM objects.
_CHECK = select(
    Suppression.digest,
    Suppression.key_id,
    Suppression.scope,
    Suppression.reason,
    Suppression.expires_at,
).where(
    # Digests are bytes already, which every driver takes as they are: no per-value conversion.
    type_coerce(Suppression.digest, NullType()).in_(bindparam("digests", expanding=True)),
    Suppression.scope.in_(bindparam("scopes", expanding=True)),
    or_(Suppression.expires_at.is_(None), Suppression.expires_at > bindparam("now")),
)


def check_many(
    session: Session | Connection,
    *,
    keys: KeySuite,
    canonicals: Sequence[str],
    list_id: uuid.UUID | None,
    now: datetime,
) -> list[CheckResult]:
    """One answer per canonical address: suppressed globally, or for the given list."""
    scopes = [GLOBAL_SCOPE] if list_id is None else [GLOBAL_SCOPE, str(list_id)]
    owners: dict[bytes, list[int]] = {}
    digests_of = keys.suppression.digests
    for position, canonical in enumerate(canonicals):
        for digest in digests_of(canonical):
            owners.setdefault(digest, []).append(position)
    found: dict[int, list[_Entry]] = {}
    digests = list(owners)
    connection = session.connection() if isinstance(session, Session) else session
    for start in range(0, len(digests), QUERY_CHUNK):
        chunk = digests[start : start + QUERY_CHUNK]
        rows = connection.execute(_CHECK, {"digests": chunk, "scopes": scopes, "now": now})
        for row in rows:
            for position in owners[row.digest]:
                found.setdefault(position, []).append(row)
    primary = keys.suppression.primary_key_id
    return [
        _best(found[i], primary) if i in found else NOT_SUPPRESSED for i in range(len(canonicals))
    ]


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
