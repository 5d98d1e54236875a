"""Lists and subscribers: subscribe, find by address, unsubscribe, erase, count by domain.

Local parts are sealed before they touch a row; lookups go through the index digest, so no
path here needs to decrypt anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.addresses import NORMALIZATION_VERSION, Address
from vault.crypto import KeySuite
from vault.errors import Conflict, InputError, NotFound
from vault.subscribers.models import (
    ConsentMethod,
    ConsentRecord,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from vault.suppressions import services as suppressions
from vault.suppressions.models import Suppression, SuppressionReason
from vault.suppressions.rehash import rehash_quietly

#: Suppressions that fresh double opt-in consent lifts (re-consent). Complaints, bounces and
#: manual entries stay until compliance removes them.
RECONSENT_LIFTS = (SuppressionReason.UNSUBSCRIBE, SuppressionReason.ERASURE)


# -- lists -----------------------------------------------------------------------------------
def create_list(session: Session, *, name: str, now: datetime) -> MailingList:
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("a list name must be 1 to 100 characters")
    if session.scalar(select(MailingList).where(MailingList.name == name)) is not None:
        raise Conflict(f"a list named {name!r} already exists")
    mailing_list = MailingList(id=uuid.uuid4(), name=name, created_at=now)
    session.add(mailing_list)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a list named {name!r} already exists") from None
    return mailing_list


def _no_such_list(name: str) -> NotFound:
    return NotFound(f"no list named {name!r}; create it with `mailvault lists create`")


def get_list(session: Session, name: str) -> MailingList:
    mailing_list = session.scalar(select(MailingList).where(MailingList.name == name))
    if mailing_list is None:
        raise _no_such_list(name)
    return mailing_list


def list_id_by_name(connection: Connection, name: str) -> uuid.UUID:
    """The id alone, on a bare connection: for hot read paths that need no ORM objects."""
    list_id = connection.scalar(select(MailingList.id).where(MailingList.name == name))
    if list_id is None:
        raise _no_such_list(name)
    return list_id


def all_lists(session: Session) -> list[MailingList]:
    return list(session.scalars(select(MailingList).order_by(MailingList.name)))


def list_names(session: Session, ids: Sequence[str]) -> dict[str, str]:
    wanted = [uuid.UUID(i) for i in ids]
    rows = session.execute(
        select(MailingList.id, MailingList.name).where(MailingList.id.in_(wanted))
    )
    return {str(row.id): row.name for row in rows}


# -- subscribers -----------------------------------------------------------------------------
class SubscribeOutcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # already on the list
    RESUBSCRIBED = "resubscribed"  # was unsubscribed, fresh double opt-in brought them back
    SUPPRESSED = "suppressed"  # refused: a suppression applies


@dataclass(frozen=True)
class SubscribeResult:
    outcome: SubscribeOutcome
    subscriber_id: uuid.UUID | None
    lifted: int = 0  # suppressions lifted by re-consent
    reason: str | None = None  # the suppression that refused it


def subscriber_values(
    *,
    keys: KeySuite,
    list_id: uuid.UUID,
    address: Address,
    consent: ConsentMethod,
    source: str,
    now: datetime,
    address_key_id: int | None = None,
) -> dict[str, Any]:
    """The column values of a new subscriber: local part sealed, index digest computed.

    ``address_key_id`` names a list's own data key (crypto-shredding); by default the primary
    ``address`` key seals. A list key this process does not hold fails (``UnknownKey``) rather
    than falling back to the shared key, which would defeat the shredding.

    Plain values rather than an ORM object, so a bulk import can insert them directly; the
    consent given at creation lives in the row itself, and ``ConsentRecord`` rows hold what
    happens after (withdrawal, renewed consent), so an import writes one row per address.
    """
    subscriber_id = uuid.uuid4()
    index = keys.index.primary(address.canonical)
    if address_key_id is None:
        address_key_id = keys.cipher.primary_key_id()
    return {
        "id": subscriber_id,
        "domain": address.domain,
        "sealed_local_part": keys.cipher.seal(
            address.local_part,
            subscriber_id=subscriber_id,
            domain=address.domain,
            key_id=address_key_id,
        ),
        "index_digest": index.digest,
        **new_subscriber_shared_values(
            list_id=list_id,
            address_key_id=address_key_id,
            index_key_id=index.key_id,
            consent=consent,
            source=source,
            now=now,
        ),
    }


def new_subscriber_shared_values(
    *,
    list_id: uuid.UUID,
    address_key_id: int,
    index_key_id: int,
    consent: ConsentMethod,
    source: str,
    now: datetime,
) -> dict[str, Any]:
    """The column values every subscriber created in one go shares (a bulk import converts
    them once per batch); ``subscriber_values`` adds the per-address ones."""
    return {
        "list_id": list_id,
        "address_key_id": address_key_id,
        "index_key_id": index_key_id,
        "normalization_version": NORMALIZATION_VERSION,
        "status": str(SubscriberStatus.SUBSCRIBED),
        "status_changed_at": now,
        "consent_method": str(consent),
        "consent_source": source[:200],
        "consent_at": now,
        "created_at": now,
        "updated_at": now,
        "last_activity_at": now,
    }


def find_on_list(
    session: Session, *, keys: KeySuite, list_id: uuid.UUID, canonical: str
) -> Subscriber | None:
    digests = [k.digest for k in keys.index.all_live(canonical)]
    return session.scalar(
        select(Subscriber).where(
            Subscriber.list_id == list_id, Subscriber.index_digest.in_(digests)
        )
    )


def find_everywhere(session: Session, *, keys: KeySuite, canonical: str) -> list[Subscriber]:
    digests = [k.digest for k in keys.index.all_live(canonical)]
    return list(session.scalars(select(Subscriber).where(Subscriber.index_digest.in_(digests))))


def subscribe(
    session: Session,
    *,
    keys: KeySuite,
    mailing_list: MailingList,
    address: Address,
    consent: ConsentMethod,
    source: str,
    now: datetime,
) -> SubscribeResult:
    """Add an address to a list with its consent record.

    A suppressed address is refused, except that fresh double opt-in lifts an unsubscribe or
    erasure suppression (re-consent); complaints and bounces are never lifted here.
    """
    rehash_quietly(session, keys=keys, canonicals=[address.canonical])
    entries = [
        e
        for e in suppressions.entries_for(session, keys=keys, canonical=address.canonical, now=now)
        if e.scope in ("global", str(mailing_list.id))
    ]
    lifted = 0
    if entries:
        liftable = consent == ConsentMethod.DOUBLE_OPT_IN and all(
            e.reason in RECONSENT_LIFTS for e in entries
        )
        if not liftable:
            best = min(entries, key=lambda e: suppressions.reason_rank(e.reason))
            return SubscribeResult(SubscribeOutcome.SUPPRESSED, None, reason=best.reason)
        for entry in entries:
            session.delete(entry)
        lifted = len(entries)
    existing = find_on_list(
        session, keys=keys, list_id=mailing_list.id, canonical=address.canonical
    )
    if existing is not None:
        if existing.status == SubscriberStatus.SUBSCRIBED:
            return SubscribeResult(SubscribeOutcome.DUPLICATE, existing.id, lifted)
        existing.status = SubscriberStatus.SUBSCRIBED
        existing.status_changed_at = existing.updated_at = existing.consent_at = now
        existing.last_activity_at = now
        existing.consent_method = str(consent)
        existing.consent_source = source[:200]
        existing.consents.append(
            ConsentRecord(
                id=uuid.uuid4(), event="granted", method=str(consent), source=source[:200], at=now
            )
        )
        session.flush()
        return SubscribeResult(SubscribeOutcome.RESUBSCRIBED, existing.id, lifted)
    subscriber = Subscriber(
        **subscriber_values(
            keys=keys,
            list_id=mailing_list.id,
            address=address,
            consent=consent,
            source=source,
            now=now,
            address_key_id=mailing_list.own_key_id,
        )
    )
    session.add(subscriber)
    session.flush()
    return SubscribeResult(SubscribeOutcome.CREATED, subscriber.id, lifted)


def unsubscribe(
    session: Session,
    *,
    keys: KeySuite,
    mailing_list: MailingList,
    address: Address,
    source: str,
    now: datetime,
) -> bool:
    """Unsubscribe from one list and suppress for that list. True if a subscriber changed."""
    suppressions.suppress(
        session,
        keys=keys,
        address=address,
        reason=SuppressionReason.UNSUBSCRIBE,
        source=source,
        list_id=mailing_list.id,
        now=now,
    )
    subscriber = find_on_list(
        session, keys=keys, list_id=mailing_list.id, canonical=address.canonical
    )
    if subscriber is None:
        return False
    subscriber.consents.append(
        ConsentRecord(
            id=uuid.uuid4(),
            event="withdrawn",
            method=subscriber.consent_method,
            source=source[:200],
            at=now,
        )
    )
    subscriber.updated_at = now
    session.flush()
    return True


@dataclass(frozen=True)
class ErasureResult:
    subscribers_removed: int
    lists: list[str]
    suppression_added: bool


def erase(
    session: Session, *, keys: KeySuite, address: Address, source: str, now: datetime
) -> ErasureResult:
    """Remove a data subject from every list (consent records go with them) and leave a global
    ``erasure`` suppression so they are never mailed again."""
    found = find_everywhere(session, keys=keys, canonical=address.canonical)
    list_ids = sorted({str(s.list_id) for s in found})
    if found:
        session.execute(delete(Subscriber).where(Subscriber.id.in_([s.id for s in found])))
    added = suppressions.suppress(
        session,
        keys=keys,
        address=address,
        reason=SuppressionReason.ERASURE,
        source=source,
        list_id=None,
        now=now,
    )
    session.expunge_all()
    return ErasureResult(len(found), list_ids, added)


def domain_counts(
    session: Session, *, list_id: uuid.UUID | None = None, status: str | None = "subscribed"
) -> list[tuple[str, int]]:
    """Subscribers per domain, most first: what marketing may see without decrypting."""
    statement = select(Subscriber.domain, func.count()).group_by(Subscriber.domain)
    if list_id is not None:
        statement = statement.where(Subscriber.list_id == list_id)
    if status is not None:
        statement = statement.where(Subscriber.status == status)
    rows = session.execute(statement.order_by(func.count().desc(), Subscriber.domain))
    return [(row[0], int(row[1])) for row in rows]


def count_suppressions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Suppression)) or 0)
