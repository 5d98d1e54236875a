"""Rewrap: re-encrypt local parts and recompute lookup digests under the primary keys.

Rows are taken in primary-key order, in batches, each batch one transaction. A row is done when
its key id columns name the primary keys, so a run that dies (even by SIGKILL) loses at most
its open batch, and running it again finishes the job: there is no progress table to get out of
step with the rows. The plain local part exists only in this process, for one row at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.addresses import parse_address
from vault.crypto import KeySuite, Purpose
from vault.errors import InvalidAddress, InvalidCiphertext
from vault.subscribers.models import MailingList, Subscriber

REWRAP_PURPOSES = frozenset({Purpose.ADDRESS, Purpose.INDEX})
DEFAULT_BATCH = 2000

_table = cast(Table, Subscriber.__table__)
_UPDATE = (
    update(_table)
    .where(
        _table.c.id == bindparam("b_id"),
        # Unchanged since we read it; otherwise a concurrent run already rewrapped it.
        _table.c.sealed_local_part == bindparam("b_old"),
    )
    .values(
        sealed_local_part=bindparam("b_sealed"),
        address_key_id=bindparam("b_address_key"),
        index_digest=bindparam("b_digest"),
        index_key_id=bindparam("b_index_key"),
    )
)


@dataclass(frozen=True)
class Targets:
    """The key each row should end up under."""

    shared_address_key: int
    index_key: int
    own_keys: dict[uuid.UUID, int]  # lists with their own data key (never rewrapped away)
    purposes: frozenset[Purpose]

    def stale(self) -> ColumnElement[bool]:
        """Rows that still need work."""
        clauses: list[ColumnElement[bool]] = []
        if Purpose.ADDRESS in self.purposes:
            shared = Subscriber.address_key_id != self.shared_address_key
            if self.own_keys:
                shared = and_(Subscriber.list_id.not_in(list(self.own_keys)), shared)
            clauses.append(shared)
            for list_id, key_id in self.own_keys.items():
                clauses.append(
                    and_(Subscriber.list_id == list_id, Subscriber.address_key_id != key_id)
                )
        if Purpose.INDEX in self.purposes:
            clauses.append(Subscriber.index_key_id != self.index_key)
        return or_(*clauses) if clauses else false()

    def address_key(self, list_id: uuid.UUID) -> int:
        return self.own_keys.get(list_id, self.shared_address_key)


def targets(session: Session, *, keys: KeySuite, purposes: Collection[Purpose]) -> Targets:
    chosen = frozenset(purposes)
    unknown = chosen - REWRAP_PURPOSES
    if unknown:
        raise ValueError(f"rewrap handles address and index keys, not {sorted(unknown)}")
    own = {
        row.id: int(row.own_key_id)
        for row in session.execute(
            select(MailingList.id, MailingList.own_key_id).where(
                MailingList.own_key_id.is_not(None)
            )
        )
    }
    return Targets(
        shared_address_key=keys.cipher.primary_key_id(),
        index_key=keys.index.primary_key_id,
        own_keys=own,
        purposes=chosen,
    )


@dataclass(frozen=True)
class RewrapPlan:
    """What a dry run reports: rows per key id, and how many rows a run would rewrite."""

    address_rows: dict[int, int]
    index_rows: dict[int, int]
    pending: int
    targets: Targets


def plan(session: Session, *, keys: KeySuite, purposes: Collection[Purpose]) -> RewrapPlan:
    goal = targets(session, keys=keys, purposes=purposes)

    def per_key(column: Any) -> dict[int, int]:
        rows = session.execute(select(column, func.count()).group_by(column))
        return {int(key_id): int(count) for key_id, count in rows}

    pending = session.scalar(select(func.count()).select_from(Subscriber).where(goal.stale()))
    return RewrapPlan(
        address_rows=per_key(Subscriber.address_key_id),
        index_rows=per_key(Subscriber.index_key_id),
        pending=int(pending or 0),
        targets=goal,
    )


@dataclass
class RewrapResult:
    rows: int = 0  # rows rewritten
    sealed: int = 0  # of which local parts re-encrypted
    indexed: int = 0  # of which index digests recomputed
    skipped: int = 0  # changed or deleted by someone else meanwhile; a later run looks again
    conflicts: int = 0  # the new index digest is already on the list (a duplicate subscriber)
    unreadable: int = 0  # do not open (retired key, damaged); left as they are
    batches: int = 0
    problems: list[str] = field(default_factory=list)

    def as_details(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "sealed": self.sealed,
            "indexed": self.indexed,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "unreadable": self.unreadable,
            "batches": self.batches,
        }


def rewrap(
    factory: Callable[[], Session],
    *,
    keys: KeySuite,
    purposes: Collection[Purpose] = REWRAP_PURPOSES,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    result: RewrapResult | None = None,
) -> RewrapResult:
    """Rewrite every row not yet under the primary keys; safe to run beside live traffic and to
    run again after a crash. ``progress(n)`` is called after each committed batch; ``result``
    (if given) is filled in as batches commit, so a caller sees how far a failed run got."""
    if batch < 1:
        raise ValueError("the batch size must be at least 1")
    with factory() as session, session.begin():
        goal = targets(session, keys=keys, purposes=purposes)
    result = result if result is not None else RewrapResult()
    last: uuid.UUID | None = None
    while True:
        with factory() as session, session.begin():
            statement = select(
                Subscriber.id,
                Subscriber.list_id,
                Subscriber.domain,
                Subscriber.sealed_local_part,
                Subscriber.address_key_id,
                Subscriber.index_digest,
                Subscriber.index_key_id,
            ).where(goal.stale())
            if last is not None:
                statement = statement.where(Subscriber.id > last)
            rows = session.execute(statement.order_by(Subscriber.id).limit(batch)).all()
            if not rows:
                break
            last = rows[-1].id
            _apply(session, _rewrite(rows, keys=keys, goal=goal, result=result), result)
        result.batches += 1
        if progress is not None:
            progress(len(rows))
    return result


def _rewrite(
    rows: Collection[Any], *, keys: KeySuite, goal: Targets, result: RewrapResult
) -> list[_Change]:
    cipher, index = keys.cipher, keys.index
    do_address = Purpose.ADDRESS in goal.purposes
    do_index = Purpose.INDEX in goal.purposes
    changes: list[_Change] = []
    for row in rows:
        try:
            local = cipher.open(row.sealed_local_part, subscriber_id=row.id, domain=row.domain)
            canonical = (
                parse_address(f"{local}@{row.domain}").canonical
                if do_index and row.index_key_id != goal.index_key
                else None
            )
        except (InvalidCiphertext, InvalidAddress) as exc:
            result.unreadable += 1
            if len(result.problems) < 10:
                result.problems.append(f"subscriber {row.id}: {type(exc).__name__}: {exc}")
            continue
        sealed, address_key = row.sealed_local_part, row.address_key_id
        target = goal.address_key(row.list_id)
        resealed = do_address and address_key != target
        if resealed:
            sealed = cipher.seal(local, subscriber_id=row.id, domain=row.domain, key_id=target)
            address_key = target
        digest, index_key = row.index_digest, row.index_key_id
        if canonical is not None:
            index_key, digest = index.primary(canonical)
        del local, canonical
        values = {
            "b_id": row.id,
            "b_old": row.sealed_local_part,
            "b_sealed": sealed,
            "b_address_key": address_key,
            "b_digest": digest,
            "b_index_key": index_key,
        }
        changes.append(_Change(values, resealed, index_key != row.index_key_id))
    return changes


@dataclass(frozen=True, slots=True)
class _Change:
    values: dict[str, Any]
    resealed: bool
    reindexed: bool


def _apply(session: Session, changes: list[_Change], result: RewrapResult) -> None:
    if not changes:
        return
    try:
        with session.begin_nested():
            done = session.execute(_UPDATE, [c.values for c in changes]).rowcount  # type: ignore[attr-defined]
    except IntegrityError:
        _apply_one_by_one(session, changes, result)
        return
    if done < 0:  # a driver that does not report rowcount for executemany
        done = len(changes)
    result.rows += done
    result.skipped += len(changes) - done
    # Rows skipped here (a concurrent run got there first) are rare; they count as rewritten
    # by us in the two totals below, which say what this run computed.
    result.sealed += sum(c.resealed for c in changes)
    result.indexed += sum(c.reindexed for c in changes)


def _apply_one_by_one(session: Session, changes: list[_Change], result: RewrapResult) -> None:
    """A batch hit the (list, index digest) uniqueness: the same address twice on one list,
    under two index keys. Rewrite the others and leave those rows for a person to look at."""
    for change in changes:
        try:
            with session.begin_nested():
                done = session.execute(_UPDATE, [change.values]).rowcount  # type: ignore[attr-defined]
        except IntegrityError:
            result.conflicts += 1
            continue
        if done:
            result.rows += 1
            result.sealed += change.resealed
            result.indexed += change.reindexed
        else:
            result.skipped += 1
