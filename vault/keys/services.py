"""Key lifecycle operations on an open store: rotate, rewrap, retire, rekey, status, and lists
with their own data key (crypto-shredding).

Every change to the keyring happens under an exclusive lock on the keys directory, on a freshly
opened keyring, and is saved (atomically) inside the database transaction that writes its audit
entry: if the audit cannot be written the keyring file is put back as it was, so no key changes
unaudited. Audit entries name key ids, versions and counts, never material.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from vault.audit import services as audit
from vault.crypto import KEYRING_FILE, Kek, Key, Keyring, KeyStatus, Purpose, write_atomically
from vault.errors import Conflict, KeyringError, NotFound
from vault.keys import rewrap as rewrapping
from vault.keys import usage
from vault.store import Vault, open_keyring_from_settings
from vault.subscribers import services as subscribers
from vault.subscribers.models import MailingList, Subscriber
from vault.suppressions.models import Suppression

LOCK_FILE = ".keyring.lock"


@contextmanager
def keyring_lock(keys_dir: Path) -> Iterator[None]:
    """One keyring change at a time across processes (rotate, retire, lists create --own-key)."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(keys_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def _changing_keyring(store: Vault) -> Iterator[Keyring]:
    with keyring_lock(store.settings.keys_dir):
        yield open_keyring_from_settings(store.settings)


@contextmanager
def _saved_with(store: Vault, ring: Keyring) -> Iterator[Session]:
    """A write transaction in which the caller audits; the keyring is saved just before the
    commit and restored if the commit (or anything after the save) fails."""
    path = ring.path
    before = path.read_bytes()
    saved = False
    try:
        with store.write() as session:
            yield session
            ring.save()
            saved = True
    except BaseException:
        if saved:
            write_atomically(path, before)  # put the keyring file back as it was
        raise
    store.use_keyring(ring)


def _record(
    store: Vault, session: Session, ring: Keyring, tag: str, subject: str, **details: Any
) -> None:
    audit.record(
        session,
        keyring=ring,
        actor=store.actor,
        tag=tag,
        subject=subject,
        details=details,
        now=store.now(),
    )


def _key_subject(key: Key) -> str:
    return f"key:{key.id:08x}"


def _shared(ring: Keyring, purpose: Purpose, version: int) -> Key:
    for key in ring.entries(purpose):
        if key.version == version and key.list_id is None:
            return key
    raise NotFound(f"the keyring has no {purpose} key version {version}")


# -- rotate ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rotation:
    previous: Key
    new: Key


def rotate(store: Vault, *, purpose: Purpose) -> Rotation:
    """Add a version that becomes primary for new writes; older versions keep reading."""
    with _changing_keyring(store) as ring:
        previous = ring.primary(purpose)
        new = ring.add_version(purpose)
        with _saved_with(store, ring) as session:
            _record(
                store,
                session,
                ring,
                "key:rotate",
                _key_subject(new),
                purpose=str(purpose),
                version=new.version,
                key_id=new.id,
                previous_key_id=previous.id,
                previous_version=previous.version,
            )
    return Rotation(previous, new)


# -- status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyUsage:
    key: Key
    rows: dict[str, int]  # "table.column" -> rows naming this key

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def status(store: Vault) -> list[KeyUsage]:
    """Every key (retired ones too) with the rows that still name it."""
    ring = open_keyring_from_settings(store.settings)
    with store.read() as session:
        counts = {purpose: usage.rows_by_key(session, purpose) for purpose in Purpose}
    return [KeyUsage(key, counts[key.purpose].get(key.id, {})) for key in ring.entries()]


# -- rewrap ------------------------------------------------------------------------------------
def rewrap_plan(
    store: Vault, *, purposes: Collection[Purpose] = rewrapping.REWRAP_PURPOSES
) -> rewrapping.RewrapPlan:
    with store.read() as session:
        return rewrapping.plan(session, keys=store.keys, purposes=purposes)


def rewrap(
    store: Vault,
    *,
    purposes: Collection[Purpose] = rewrapping.REWRAP_PURPOSES,
    batch: int = rewrapping.DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> rewrapping.RewrapResult:
    """Rewrap every subscriber row onto the primary keys, then audit what was done. An
    interrupted run is audited too, as far as it got; a killed one is simply run again."""
    keys = store.keys
    result = rewrapping.RewrapResult()
    finished = False

    def record() -> None:
        with store.write() as session:
            _record(
                store,
                session,
                store.keyring,
                "key:rewrap",
                "subscribers",
                purposes=sorted(str(p) for p in purposes),
                address_key_id=keys.cipher.primary_key_id(),
                index_key_id=keys.index.primary_key_id,
                finished=finished,
                **result.as_details(),
            )

    try:
        rewrapping.rewrap(
            store.session_factory,
            keys=keys,
            purposes=purposes,
            batch=batch,
            progress=progress,
            result=result,
        )
    except BaseException:
        if result.batches:
            with contextlib.suppress(Exception):  # the original failure is the one to report
                record()
        raise
    finished = True
    record()
    return result


# -- retire ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retirement:
    key: Key
    dropped: int  # suppression entries dropped with --drop-entries


def usage_of(store: Vault, *, purpose: Purpose, version: int) -> KeyUsage:
    ring = open_keyring_from_settings(store.settings)
    key = _shared(ring, purpose, version)
    with store.read() as session:
        return KeyUsage(key, usage.rows_using(session, purpose, key.id))


def retire(
    store: Vault,
    *,
    purpose: Purpose,
    version: int,
    drop_entries: bool = False,
    confirm: int | None = None,
    break_links: bool = False,
) -> Retirement:
    """Destroy a non-primary version's material. Refused while any row still names the key;
    for a suppression key, ``drop_entries`` with ``confirm`` equal to the number of entries
    deletes them first (they stop suppressing: the audit entry records how many). A token key
    that signed unsubscribe links in the last ``TOKEN_LINK_DAYS`` is refused unless
    ``break_links``: no row records those links, but they sit in people's mailboxes."""
    if drop_entries and purpose != Purpose.SUPPRESSION:
        raise Conflict("--drop-entries applies to suppression keys only")
    if break_links and purpose != Purpose.TOKEN:
        raise Conflict("--break-links applies to token keys only")
    with _changing_keyring(store) as ring:
        key = _shared(ring, purpose, version)
        if key.status == KeyStatus.RETIRED:
            raise Conflict(f"{key.label} is already retired")
        if key.status == KeyStatus.PRIMARY:
            raise Conflict(f"{key.label} is primary; rotate first, then retire it")
        if purpose == Purpose.TOKEN and not break_links:
            _refuse_if_links_are_recent(ring, key, now=store.now())
        dropped = 0
        with _saved_with(store, ring) as session:
            _hold_writers(session, purpose)
            rows = usage.rows_using(session, purpose, key.id)
            in_use = sum(rows.values())
            if in_use:
                if not (drop_entries and set(rows) == {"suppressions.key_id"}):
                    raise Conflict(_still_used(key, rows))
                if confirm != in_use:
                    raise Conflict(
                        f"{key.label} holds {in_use} suppression entries; dropping them means "
                        f"those addresses are no longer suppressed. Confirm with the number "
                        f"{in_use} (--confirm {in_use})"
                    )
                dropped = int(
                    session.execute(  # type: ignore[attr-defined]
                        delete(Suppression).where(Suppression.key_id == key.id)
                    ).rowcount
                )
            retired = ring.retire(key.id)
            _record(
                store,
                session,
                ring,
                "key:retire",
                _key_subject(key),
                purpose=str(purpose),
                version=key.version,
                key_id=key.id,
                dropped_entries=dropped,
                **({"broke_recent_links": True} if break_links else {}),
            )
    return Retirement(retired, dropped)


#: How long unsubscribe links keep working after their key stops signing: mail is read, and
#: List-Unsubscribe used, weeks and months after it is sent.
TOKEN_LINK_DAYS = 90


def _refuse_if_links_are_recent(ring: Keyring, key: Key, *, now: datetime) -> None:
    newer = [k.created_at for k in ring.entries(key.purpose) if k.version > key.version]
    stopped_signing = min(newer, default=now)
    safe_from = stopped_signing + timedelta(days=TOKEN_LINK_DAYS)
    if now < safe_from:
        raise Conflict(
            f"{key.label} signed the unsubscribe links of mail sent until "
            f"{stopped_signing:%Y-%m-%d}; retiring it makes those links fail (404). Wait until "
            f"{safe_from:%Y-%m-%d} ({TOKEN_LINK_DAYS} days), or pass --break-links"
        )


def _still_used(key: Key, rows: dict[str, int]) -> str:
    where = ", ".join(f"{n} in {column}" for column, n in sorted(rows.items()))
    hint = {
        Purpose.ADDRESS: "run `mailvault keys rewrap --purpose address` first",
        Purpose.INDEX: "run `mailvault keys rewrap --purpose index` first",
        Purpose.SUPPRESSION: (
            "entries move to the primary key when their address is seen again (rehash on "
            "sight); or drop them with --drop-entries"
        ),
        Purpose.AUDIT: "audit entries are verified with it; it retires once they are purged",
        Purpose.TOKEN: "reissue what it signed first",
    }[key.purpose]
    return f"{key.label} is still used by {where}; {hint}"


def _hold_writers(session: Session, purpose: Purpose) -> None:
    """Make the count and the retirement one step for concurrent writers. SQLite writers are
    already serialized (BEGIN IMMEDIATE); on PostgreSQL the tables are locked against writes
    until commit (reads go on)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    tables = sorted({column.class_.__tablename__ for column in usage.columns(purpose)})
    for table in tables:
        session.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))


# -- rekey -------------------------------------------------------------------------------------
def rekey(store: Vault, *, kek: Kek) -> None:
    """Seal the same keys under a new passphrase or KEK file. Services keep the keys they have;
    they need the new KEK in their settings before they can open the keyring again."""
    with _changing_keyring(store) as ring:
        ring.rekey(kek)
        with _saved_with(store, ring) as session:
            _record(
                store,
                session,
                ring,
                "key:rekey",
                f"keyring:{KEYRING_FILE}",
                kek="file" if kek.file is not None else "passphrase",
                keys=len(ring.entries()),
            )


# -- lists with their own key (crypto-shredding) -----------------------------------------------
def create_list(store: Vault, name: str, *, own_key: bool) -> MailingList:
    """A list; with ``own_key`` its local parts are sealed under a data key of its own, which
    deleting the list destroys."""
    if not own_key:
        return store.create_list(name)
    with _changing_keyring(store) as ring, _saved_with(store, ring) as session:
        created = subscribers.create_list(session, name=name, now=store.now())
        key = ring.add_version(Purpose.ADDRESS, list_id=str(created.id))
        created.own_key_id = key.id
        session.flush()
        _record(
            store,
            session,
            ring,
            "list:create",
            f"list:{created.id}",
            own_key_id=key.id,
        )
    return created


@dataclass(frozen=True)
class ListDeletion:
    list_id: str
    subscribers: int
    key_destroyed: Key | None


def delete_list(store: Vault, name: str) -> ListDeletion:
    """Delete a list with its subscribers and consent records; its suppressions stay (they are
    digests, and invariant 6 says no suppression is ever dropped). A list with its own key has
    the key's material destroyed in the same step."""
    with _changing_keyring(store) as ring, _saved_with(store, ring) as session:
        mailing_list = subscribers.get_list(session, name)
        count = int(
            session.scalar(
                select(func.count())
                .select_from(Subscriber)
                .where(Subscriber.list_id == mailing_list.id)
            )
            or 0
        )
        destroyed: Key | None = None
        if mailing_list.own_key_id is not None:
            try:
                own = next(k for k in ring.entries() if k.id == mailing_list.own_key_id)
            except StopIteration:
                raise KeyringError(
                    f"list {name!r} names its own key {mailing_list.own_key_id:08x}, "
                    "which this keyring does not hold"
                ) from None
            destroyed = own if own.status == KeyStatus.RETIRED else ring.retire(own.id)
        list_id = str(mailing_list.id)
        session.execute(delete(MailingList).where(MailingList.id == mailing_list.id))
        _record(
            store,
            session,
            ring,
            "list:delete",
            f"list:{list_id}",
            subscribers_removed=count,
            own_key_destroyed=destroyed.id if destroyed else None,
        )
    return ListDeletion(list_id, count, destroyed)
