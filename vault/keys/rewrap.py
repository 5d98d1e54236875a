"""Rewrap: re-encrypt local parts and recompute lookup digests under the primary keys.

Rows are taken in primary-key order, in batches, each batch one transaction. A row is done when
its key id columns name the primary keys, so a run that dies (even by SIGKILL) loses at most
its open batch, and running it again finishes the job: there is no progress table to get out of
step with the rows. The plain local parts exist only in this process, for one batch at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from vault.addresses import parse_address
from vault.crypto import KeySuite, Purpose
from vault.errors import InvalidAddress, InvalidCiphertext
from vault.subscribers.models import MailingList, Subscriber

REWRAP_PURPOSES = frozenset({Purpose.ADDRESS, Purpose.INDEX})
# A batch holds the write lock while it is written (SQLite: other writers wait, up to their 30 s
# busy timeout): 20 000 rows take well under a second on an idle machine, about 2 s on a busy
# one, and at a million rows write each page of the digest index about ten times fewer than
# batches of 2000 did.
DEFAULT_BATCH = 20_000


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
        bind = session.get_bind()
    if not isinstance(bind, Engine):
        raise TypeError("rewrap takes sessions bound to an engine; it opens its own connection")
    result = result if result is not None else RewrapResult()
    stale = goal.stale()
    # One connection for the whole run, so that what its page cache learnt in one batch is
    # still there for the next (each batch is still its own transaction).
    with bind.connect() as connection:
        dialect = _Dialect(connection.dialect.name)
        dialect.prepare(connection)
        try:
            last: Any = None
            while True:
                with connection.begin():
                    statement = select(*dialect.columns).where(stale)
                    if last is not None:
                        statement = statement.where(dialect.order > literal(last, _RAW))
                    rows = connection.execute(statement.order_by(dialect.order).limit(batch)).all()
                    if not rows:
                        break
                    last = rows[-1][0]
                    changes = _rewrite(rows, keys=keys, goal=goal, dialect=dialect, result=result)
                    _apply(connection, dialect, changes, result)
                result.batches += 1
                if progress is not None:
                    progress(len(rows))
        finally:
            dialect.release(connection)
    return result


# The hot loop skips SQLAlchemy's per-value conversions: ids travel in the driver's own form
# (hex text on SQLite, uuid.UUID from psycopg) and the update goes to the driver's executemany.
_RAW = NullType()

# The rewrap connection's page cache on SQLite. At a million rows the (index digest, list)
# index no longer fits the store's usual 64 MiB, and every batch would read most of its pages
# back from the file to put new digests at random places in it. SQLite takes cache pages only
# as it uses them, and the connection is closed (not pooled) when the run ends.
_SQLITE_REWRAP_CACHE_KIB = 512 * 1024


def _raw(column: Any) -> Any:
    return type_coerce(column, _RAW)


class _Dialect:
    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"
        where = "rowid = ?" if self.sqlite else "id = %s"
        mark = "?" if self.sqlite else "%s"
        # The row is matched on its old ciphertext too: if a concurrent run rewrapped it
        # meanwhile, this update does nothing instead of writing a second time.
        self.update = (
            f"UPDATE subscribers SET sealed_local_part = {mark}, address_key_id = {mark}, "  # noqa: S608 - fixed names
            f"index_digest = {mark}, index_key_id = {mark} "
            f"WHERE {where} AND sealed_local_part = {mark}"
        )
        # The order rows are taken in, and the handle a row is updated by: on SQLite the rowid,
        # the table's real primary key (the uuid is a unique index beside it), so consecutive
        # rows share pages and a batch writes a few hundred pages instead of thousands; on
        # PostgreSQL the primary key.
        self.order = literal_column("rowid") if self.sqlite else _raw(Subscriber.id)
        handle = self.order.label("handle")
        self.columns = (
            handle,
            _raw(Subscriber.id),
            _raw(Subscriber.list_id),
            Subscriber.domain,
            Subscriber.sealed_local_part,
            Subscriber.address_key_id,
            Subscriber.index_digest,
            Subscriber.index_key_id,
        )

    def id_bytes(self, raw: Any) -> bytes:
        return bytes.fromhex(raw) if self.sqlite else raw.bytes

    def from_uuid(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def prepare(self, connection: Connection) -> None:
        """Set up the run's connection: a wide page cache on SQLite, the batch table on
        PostgreSQL."""
        if self.sqlite:
            # On the driver's connection: a PRAGMA needs no transaction (nor the write lock).
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute(f"PRAGMA cache_size = -{_SQLITE_REWRAP_CACHE_KIB}")
            return
        with connection.begin():
            connection.exec_driver_sql(_PG_BATCH_TABLE)

    def release(self, connection: Connection) -> None:
        # Closed rather than pooled, so no later user inherits the large cache or the table.
        connection.invalidate()


# PostgreSQL runs each executemany row as a statement of its own; here a batch is copied into a
# temporary table and applied by one joined UPDATE. The rows vanish at each commit (or with the
# savepoint that rolls a failed batch back).
_PG_BATCH_TABLE = (
    "CREATE TEMPORARY TABLE mailvault_rewrap_batch (sealed bytea, address_key_id integer, "
    "index_digest bytea, index_key_id integer, handle uuid, old bytea) ON COMMIT DELETE ROWS"
)
_PG_COPY = "COPY mailvault_rewrap_batch FROM STDIN"
_PG_UPDATE = (
    "UPDATE subscribers SET sealed_local_part = b.sealed, address_key_id = b.address_key_id, "
    "index_digest = b.index_digest, index_key_id = b.index_key_id "
    "FROM mailvault_rewrap_batch AS b "
    "WHERE subscribers.id = b.handle AND subscribers.sealed_local_part = b.old"
)


def _rewrite(
    rows: Collection[Any],
    *,
    keys: KeySuite,
    goal: Targets,
    dialect: _Dialect,
    result: RewrapResult,
) -> list[_Change]:
    """Open every row, then seal the batch's local parts in one call per target key."""
    cipher, index = keys.cipher, keys.index
    open_raw = cipher.open_raw
    do_address = Purpose.ADDRESS in goal.purposes
    do_index = Purpose.INDEX in goal.purposes
    index_target = goal.index_key
    new_digest = index.function(index_target) if do_index else None
    shared = goal.shared_address_key
    own = {dialect.from_uuid(list_id): key for list_id, key in goal.own_keys.items()}
    id_bytes = dialect.id_bytes
    changes: list[_Change] = []
    # Rows to seal under each target key: (local part, id bytes, domain), and where they go.
    to_seal: dict[int, list[tuple[str, bytes, str]]] = {}
    sealed_at: dict[int, list[int]] = {}
    for handle, raw_id, raw_list, domain, old, address_key, digest, index_key in rows:
        subscriber_id = id_bytes(raw_id)
        try:
            local = open_raw(old, subscriber_id=subscriber_id, domain=domain)
            canonical = (
                parse_address(f"{local}@{domain}").canonical
                if do_index and index_key != index_target
                else None
            )
        except (InvalidCiphertext, InvalidAddress) as exc:
            result.unreadable += 1
            if len(result.problems) < 10:
                result.problems.append(
                    f"subscriber {uuid.UUID(bytes=subscriber_id)}: {type(exc).__name__}: {exc}"
                )
            continue
        target = own.get(raw_list, shared) if own else shared
        resealed = do_address and address_key != target
        if resealed:
            to_seal.setdefault(target, []).append((local, subscriber_id, domain))
            sealed_at.setdefault(target, []).append(len(changes))
            address_key = target
        reindexed = canonical is not None
        if canonical is not None:
            assert new_digest is not None
            index_key, digest = index_target, new_digest(canonical.encode("utf-8"))
        changes.append(
            _Change([old, address_key, digest, index_key, handle, old], resealed, reindexed)
        )
    for target, items in to_seal.items():
        for position, sealed in zip(
            sealed_at[target], cipher.seal_many(items, key_id=target), strict=True
        ):
            changes[position].values[0] = sealed
    to_seal.clear()
    return changes


@dataclass(frozen=True, slots=True)
class _Change:
    values: list[Any]  # the update's parameters: new sealed, keys and digest; handle; old sealed
    resealed: bool
    reindexed: bool


def _execute(connection: Connection, dialect: _Dialect, params: list[Any]) -> int:
    cursor = connection.exec_driver_sql(dialect.update, params)
    return int(cursor.rowcount)


def _execute_batch(connection: Connection, dialect: _Dialect, params: list[Any]) -> int:
    """The rows a batch updates (each matched on its old ciphertext, like ``_execute``)."""
    if dialect.sqlite:
        return _execute(connection, dialect, params)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        for values in params:
            copy.write_row(values)
    # Through SQLAlchemy, so that a uniqueness failure is its IntegrityError like elsewhere.
    return int(connection.exec_driver_sql(_PG_UPDATE).rowcount)


def _apply(
    connection: Connection, dialect: _Dialect, changes: list[_Change], result: RewrapResult
) -> None:
    if not changes:
        return
    try:
        with connection.begin_nested():
            done = _execute_batch(connection, dialect, [tuple(c.values) for c in changes])
    except IntegrityError:
        _apply_one_by_one(connection, dialect, changes, result)
        return
    if done < 0:  # a driver that does not report rowcount for executemany
        done = len(changes)
    result.rows += done
    result.skipped += len(changes) - done
    # Rows skipped here (a concurrent run got there first) are rare; they count as rewritten
    # by us in the two totals below, which say what this run computed.
    result.sealed += sum(c.resealed for c in changes)
    result.indexed += sum(c.reindexed for c in changes)


def _apply_one_by_one(
    connection: Connection, dialect: _Dialect, changes: list[_Change], result: RewrapResult
) -> None:
    """A batch hit the (index digest, list) uniqueness: the same address twice on one list,
    under two index keys. Rewrite the others and leave those rows for a person to look at."""
    for change in changes:
        try:
            with connection.begin_nested():
                done = _execute(connection, dialect, [tuple(change.values)])
        except IntegrityError:
            result.conflicts += 1
            continue
        if done:
            result.rows += 1
            result.sealed += change.resealed
            result.indexed += change.reindexed
        else:
            result.skipped += 1
