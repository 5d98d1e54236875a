"""Releasing a mailing to a sender: the one path that turns sealed local parts into addresses.

Fail closed, in three steps:

1. ``start``: in one transaction, claim the mailing (draft, or released with a compliance
   override, becomes released) and write the ``mailing:release`` audit entry. If either fails,
   nothing has been decrypted and the release fails.
2. ``recipients``: read the audience in id order, batch by batch; decrypt each local part and
   drop every address suppressed *now* (globally or for the list), so a suppression added after
   the mailing was created still wins. A row that does not decrypt is skipped and counted.
3. ``finish``: a ``mailing:release_report`` audit entry with the counts and key ids.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vault.audit import services as audit
from vault.audit.services import Actor
from vault.crypto import KeySuite, sealed_key_id
from vault.errors import InvalidCiphertext
from vault.mailings import services as mailings
from vault.mailings.segments import DomainRules
from vault.subscribers.models import Subscriber
from vault.suppressions.models import GLOBAL_SCOPE, Suppression

if TYPE_CHECKING:
    from vault.store import Vault

DEFAULT_BATCH = 5000
# Parameters per suppression query; both SQLite (32766) and PostgreSQL (65535) allow more.
_QUERY_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Recipient:
    """One released recipient. The one-click unsubscribe work will add its
    ``list_unsubscribe`` fields here and in ``ndjson_line``."""

    subscriber_id: uuid.UUID
    address: str


def ndjson_line(recipient: Recipient) -> str:
    """The wire form of one recipient: ``{"subscriber_id": ..., "address": ...}`` and a newline."""
    address = json.dumps(recipient.address, ensure_ascii=False)
    return f'{{"subscriber_id":"{recipient.subscriber_id}","address":{address}}}\n'


@dataclass(frozen=True)
class ReleaseTicket:
    """A claimed release: the mailing is marked released and the start is in the audit log."""

    mailing_id: uuid.UUID
    list_id: uuid.UUID
    rules: DomainRules
    used_override: bool
    release_number: int


@dataclass
class ReleaseReport:
    released: int = 0
    suppressed: int = 0
    undecryptable: int = 0
    address_key_ids: set[int] = field(default_factory=set)
    completed: bool = False
    error: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "suppressed": self.suppressed,
            "undecryptable": self.undecryptable,
            "address_key_ids": [f"{k:08x}" for k in sorted(self.address_key_ids)],
            "completed": self.completed,
            "error": self.error,
        }


def start(store: Vault, *, actor: Actor, mailing_id: uuid.UUID, reason: str) -> ReleaseTicket:
    """Claim the mailing and audit the release in one transaction (step 1)."""
    with store.write() as session:
        mailing, used_override = mailings.claim_release(
            session, mailing_id=mailing_id, now=store.now()
        )
        audit.record(
            session,
            keyring=store.keyring,
            actor=actor,
            tag="mailing:release",
            subject=f"mailing:{mailing.id}",
            details={
                "list_id": str(mailing.list_id),
                "reason": reason,
                "release": mailing.releases,
                "override_used": used_override,
                "include_domains": list(mailing.include_domains),
                "exclude_domains": list(mailing.exclude_domains),
                "suppression_key_ids": [f"{k:08x}" for k in store.keys.suppression.key_ids],
            },
            now=store.now(),
        )
        return ReleaseTicket(
            mailing.id, mailing.list_id, mailings.rules_of(mailing), used_override, mailing.releases
        )


def recipients(
    store: Vault, ticket: ReleaseTicket, report: ReleaseReport, *, batch_size: int = DEFAULT_BATCH
) -> Iterator[list[Recipient]]:
    """The unsuppressed recipients, one list per batch (step 2). Updates ``report``."""
    where = mailings.audience(ticket.list_id, ticket.rules)
    scopes = [GLOBAL_SCOPE, str(ticket.list_id)]
    cipher = store.keys.cipher
    last: uuid.UUID | None = None
    while True:
        with store.read() as session:
            statement = select(Subscriber.id, Subscriber.domain, Subscriber.sealed_local_part)
            statement = statement.where(where)
            if last is not None:
                statement = statement.where(Subscriber.id > last)
            rows = session.execute(statement.order_by(Subscriber.id).limit(batch_size)).all()
            if not rows:
                return
            last = rows[-1][0]
            opened: list[Recipient] = []
            canonicals: list[str] = []
            for subscriber_id, domain, sealed in rows:
                try:
                    local = cipher.open(sealed, subscriber_id=subscriber_id, domain=domain)
                    report.address_key_ids.add(sealed_key_id(sealed))
                except InvalidCiphertext:
                    report.undecryptable += 1
                    continue
                opened.append(Recipient(subscriber_id, f"{local}@{domain}"))
                canonicals.append(f"{local.lower()}@{domain}")
            flags = suppressed(
                session, keys=store.keys, canonicals=canonicals, scopes=scopes, now=store.now()
            )
        batch = [r for r, hit in zip(opened, flags, strict=True) if not hit]
        report.suppressed += len(opened) - len(batch)
        report.released += len(batch)
        yield batch


def suppressed(
    session: Session,
    *,
    keys: KeySuite,
    canonicals: Sequence[str],
    scopes: Sequence[str],
    now: datetime,
) -> list[bool]:
    """For each canonical address: is it suppressed now in one of the scopes?

    The bulk form of ``suppressions.services.check_many`` that only answers yes or no, which
    lets it fetch one column instead of whole rows.
    """
    functions = [keys.suppression.function(key_id) for key_id in keys.suppression.key_ids]
    per_address = [
        [fn(message) for fn in functions] for message in (c.encode("utf-8") for c in canonicals)
    ]
    digests = [d for ds in per_address for d in ds]
    hits: set[bytes] = set()
    for begin in range(0, len(digests), _QUERY_CHUNK):
        hits.update(
            session.scalars(
                select(Suppression.digest).where(
                    Suppression.digest.in_(digests[begin : begin + _QUERY_CHUNK]),
                    Suppression.scope.in_(scopes),
                    or_(Suppression.expires_at.is_(None), Suppression.expires_at > now),
                )
            )
        )
    if not hits:
        return [False] * len(canonicals)
    return [any(d in hits for d in ds) for ds in per_address]


def finish(store: Vault, *, actor: Actor, ticket: ReleaseTicket, report: ReleaseReport) -> None:
    """The closing audit entry with the counts (step 3)."""
    with store.write() as session:
        audit.record(
            session,
            keyring=store.keyring,
            actor=actor,
            tag="mailing:release_report",
            subject=f"mailing:{ticket.mailing_id}",
            details={"release": ticket.release_number, **report.details()},
            now=store.now(),
        )


def summary_line(report: ReleaseReport) -> str:
    """The last line of a complete release; a stream without it was cut short."""
    counts = {
        "released": report.released,
        "suppressed": report.suppressed,
        "undecryptable": report.undecryptable,
    }
    return json.dumps({"summary": counts}, separators=(",", ":")) + "\n"
