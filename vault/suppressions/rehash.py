"""Rehash on sight: a suppression digest cannot be re-keyed without the address, so whenever an
address is seen in plain text its entries under older suppression keys move to the primary key.

Old versions drain this way until ``keys status`` shows them empty and ``keys retire`` accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vault.addresses import NORMALIZATION_VERSION
from vault.crypto import KeySuite
from vault.db.engine import WRITE_OPTION
from vault.errors import MailvaultError
from vault.suppressions.models import Suppression

logger = logging.getLogger(__name__)

# Databases bound the number of parameters in one statement (SQLite: 32766); stay well under.
_CHUNK = 900


def _longer(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two expiries, where ``None`` (never expires) is the latest of all."""
    if a is None or b is None:
        return None
    return max(a, b)


def rehash_on_sight(session: Session, *, keys: KeySuite, canonicals: Iterable[str]) -> int:
    """Rewrite every entry (any scope, any reason) of these addresses that is held under an older
    live suppression key, under the primary key; returns how many entries moved.

    If the address already has the same (scope, reason) under the primary key (two writers with
    different keyrings), the two merge into one that expires at the later of the two dates, so a
    suppression is never shortened and never dropped. Costs nothing with one live key.
    """
    digester = keys.suppression
    primary_id = digester.primary_key_id
    if len(digester.key_ids) < 2:
        return 0
    owner: dict[bytes, str] = {}
    for canonical in dict.fromkeys(canonicals):
        for keyed in digester.all_live(canonical):
            if keyed.key_id != primary_id:
                owner[keyed.digest] = canonical
    if not owner:
        return 0
    old_digests = list(owner)
    stale: list[Suppression] = []
    for start in range(0, len(old_digests), _CHUNK):
        stale.extend(
            session.scalars(
                select(Suppression).where(
                    Suppression.digest.in_(old_digests[start : start + _CHUNK]),
                    Suppression.key_id != primary_id,
                )
            )
        )
    if not stale:
        return 0
    target = {row.id: digester.primary(owner[row.digest]).digest for row in stale}
    wanted = list(set(target.values()))
    current: dict[tuple[bytes, str, str], Suppression] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in session.scalars(
            select(Suppression).where(Suppression.digest.in_(wanted[start : start + _CHUNK]))
        ):
            current[(row.digest, row.scope, row.reason)] = row
    for row in sorted(stale, key=lambda r: (r.created_at, str(r.id))):
        new_digest = target[row.id]
        twin = current.get((new_digest, row.scope, row.reason))
        if twin is not None:
            twin.expires_at = _longer(twin.expires_at, row.expires_at)
            session.delete(row)
            continue
        row.digest = new_digest
        row.key_id = primary_id
        row.normalization_version = NORMALIZATION_VERSION
        current[(new_digest, row.scope, row.reason)] = row
    session.flush()
    return len(stale)


def rehash_quietly(session: Session, *, keys: KeySuite, canonicals: Iterable[str]) -> int:
    """``rehash_on_sight`` inside a savepoint of the caller's transaction: if it fails (a
    concurrent writer got there first), the entries stay where they were, still matched under
    their older key, and the caller's own work goes on unharmed."""
    if len(keys.suppression.key_ids) < 2:
        return 0
    try:
        with session.begin_nested():
            return rehash_on_sight(session, keys=keys, canonicals=canonicals)
    except (SQLAlchemyError, MailvaultError) as exc:
        logger.warning(
            "rehash on sight skipped (%s); entries stay under their key", type(exc).__name__
        )
        return 0


def rehash_after_read(
    engine: Engine, *, keys: KeySuite, canonicals: Iterable[str], lock_timeout_ms: int = 250
) -> int:
    """Rehash in a short write transaction of its own, after a read-only check has answered.

    The check's answer never depends on this: it waits at most ``lock_timeout_ms`` for the write
    lock (a busy importer should not slow a send-time check down) and swallows any failure,
    leaving the entries matched under their older key until the address is seen again.
    """
    wanted = list(dict.fromkeys(canonicals))
    if not wanted or len(keys.suppression.key_ids) < 2:
        return 0
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            previous = None
            if sqlite:
                previous = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
                connection.exec_driver_sql(f"PRAGMA busy_timeout={int(lock_timeout_ms)}")
                # End the transaction SQLAlchemy began for the PRAGMAs, so that the session
                # below begins its own (BEGIN IMMEDIATE) and really commits.
                connection.commit()
            try:
                bound = connection.execution_options(**{WRITE_OPTION: True})
                with Session(bind=bound) as session, session.begin():
                    if not sqlite:
                        session.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
                    return rehash_on_sight(session, keys=keys, canonicals=wanted)
            finally:
                if previous is not None:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(previous)}")
                    connection.commit()
    except Exception as exc:  # the check has answered already; nothing here may undo that
        logger.warning(
            "rehash on sight skipped (%s); entries stay under their key", type(exc).__name__
        )
        return 0
