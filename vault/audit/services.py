"""Writing and verifying the audit log. Entries name ids, digests and counts, never addresses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vault.audit.chain import GENESIS_MAC, entry_mac
from vault.audit.models import AuditEntry
from vault.crypto import Keyring, Purpose
from vault.errors import MailvaultError


@dataclass(frozen=True)
class Actor:
    """Who did something: a principal (by id) or a local command-line user."""

    name: str
    role: str

    @classmethod
    def cli(cls, user: str) -> Actor:
        return cls(name=f"cli:{user}", role="operator")


def _timestamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def record(
    session: Session,
    *,
    keyring: Keyring,
    actor: Actor,
    tag: str,
    subject: str,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    """Append one entry to the chain in the caller's transaction.

    The entry commits or rolls back with the change it describes, so a change that cannot be
    audited does not happen (fail closed).
    """
    if session.get_bind().dialect.name == "postgresql":
        # Serialize appenders across processes and machines; released at commit.
        session.execute(text("SELECT pg_advisory_xact_lock(7468221301)"))
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.mac).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_mac = (last.seq + 1, last.mac) if last else (1, GENESIS_MAC)
    key = keyring.primary(Purpose.AUDIT)
    entry_id = uuid.uuid4()
    details = dict(details or {})
    entry = AuditEntry(
        id=entry_id,
        seq=seq,
        at=now,
        actor=actor.name,
        role=actor.role,
        tag=tag,
        subject=subject,
        details=details,
        key_id=key.id,
        prev_mac=prev_mac,
        mac=entry_mac(
            key.secret(),
            prev_mac=prev_mac,
            seq=seq,
            entry_id=str(entry_id),
            at=_timestamp(now),
            actor=actor.name,
            role=actor.role,
            tag=tag,
            subject=subject,
            details=details,
            key_id=key.id,
        ),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries"
        return f"audit chain broken at entry #{self.first_broken_seq}: {self.problem}"


def _recorded_cut(session: Session) -> int | None:
    """The highest chain position a retention purge recorded removing (see vault.retention)."""
    cuts = [
        int(details["audit_removed_through_seq"])
        for details in session.scalars(
            select(AuditEntry.details).where(AuditEntry.tag == "retention:purge")
        )
        if isinstance(details, dict) and "audit_removed_through_seq" in details
    ]
    return max(cuts) if cuts else None


def verify_chain(session: Session, *, keyring: Keyring, batch: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first entry whose link does not hold."""
    count = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    expected_prev: bytes | None = None
    expected_seq: int | None = None
    checked = 0
    last_seq = 0
    keys: dict[int, bytes] = {}
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if expected_seq is None:
                # The oldest entry left. Older ones may only be gone through a recorded purge.
                if entry.seq > 1 and _recorded_cut(session) != entry.seq - 1:
                    return ChainReport(
                        0,
                        False,
                        1,
                        f"entries #1 to #{entry.seq - 1} are missing and no recorded purge "
                        "removed them",
                    )
                expected_prev = entry.prev_mac if entry.seq > 1 else GENESIS_MAC
                expected_seq = entry.seq
            if entry.seq != expected_seq:
                return ChainReport(
                    checked, False, expected_seq, f"entry #{expected_seq} is missing"
                )
            if entry.prev_mac != expected_prev:
                return ChainReport(
                    checked,
                    False,
                    entry.seq,
                    "does not link to the entry before it (removed or reordered)",
                )
            key = keys.get(entry.key_id)
            if key is None:
                try:
                    key = keys[entry.key_id] = keyring.get(entry.key_id).secret()
                except MailvaultError:
                    return ChainReport(
                        checked,
                        False,
                        entry.seq,
                        f"its audit key {entry.key_id:08x} is not in the keyring",
                    )
            mac = entry_mac(
                key,
                prev_mac=entry.prev_mac,
                seq=entry.seq,
                entry_id=str(entry.id),
                at=_timestamp(entry.at),
                actor=entry.actor,
                role=entry.role,
                tag=entry.tag,
                subject=entry.subject,
                details=entry.details,
                key_id=entry.key_id,
            )
            if mac != entry.mac:
                return ChainReport(checked, False, entry.seq, "its contents were edited")
            expected_prev = entry.mac
            expected_seq = entry.seq + 1
            checked += 1
            last_seq = entry.seq
    return ChainReport(count, True)
