"""Segments and mailings: counts per domain, recipient ids and domains, release bookkeeping.

Nothing here decrypts; the release itself (the one path to plaintext) is ``release.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vault.errors import Conflict, InputError, NotFound
from vault.mailings.models import Mailing, MailingStatus
from vault.mailings.segments import DomainRules
from vault.subscribers.models import MailingList, Subscriber, SubscriberStatus

RELEASABLE = (MailingStatus.DRAFT, MailingStatus.OVERRIDE_GRANTED)


def audience(list_id: uuid.UUID, rules: DomainRules):  # type: ignore[no-untyped-def]
    """The WHERE clause of a segment: subscribed members of the list whose domain matches."""
    return (
        (Subscriber.list_id == list_id)
        & (Subscriber.status == SubscriberStatus.SUBSCRIBED)
        & rules.clause()
    )


def domain_counts(
    session: Session, *, list_id: uuid.UUID, rules: DomainRules
) -> list[tuple[str, int]]:
    """Subscribed members per domain, most first (before suppressions, which only a release
    can apply: a suppression is keyed by the whole address)."""
    rows = session.execute(
        select(Subscriber.domain, func.count())
        .where(audience(list_id, rules))
        .group_by(Subscriber.domain)
        .order_by(func.count().desc(), Subscriber.domain)
    )
    return [(row[0], int(row[1])) for row in rows]


def create(
    session: Session,
    *,
    name: str,
    mailing_list: MailingList,
    rules: DomainRules,
    created_by: str,
    now: datetime,
) -> Mailing:
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("a mailing name must be 1 to 200 characters")
    mailing = Mailing(
        id=uuid.uuid4(),
        name=name,
        list_id=mailing_list.id,
        include_domains=list(rules.include),
        exclude_domains=list(rules.exclude),
        status=MailingStatus.DRAFT,
        created_by=created_by[:200],
        created_at=now,
        releases=0,
    )
    session.add(mailing)
    session.flush()
    return mailing


def get(session: Session, mailing_id: uuid.UUID) -> Mailing:
    mailing = session.get(Mailing, mailing_id)
    if mailing is None:
        raise NotFound(f"no mailing with id {mailing_id}")
    return mailing


def all_mailings(session: Session) -> list[Mailing]:
    return list(session.scalars(select(Mailing).order_by(Mailing.created_at.desc(), Mailing.id)))


def rules_of(mailing: Mailing) -> DomainRules:
    return DomainRules(tuple(mailing.include_domains), tuple(mailing.exclude_domains))


def recipient_page(
    session: Session, *, mailing: Mailing, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """(subscriber id, domain) of the mailing's audience, in id order, after a cursor."""
    statement = select(Subscriber.id, Subscriber.domain).where(
        audience(mailing.list_id, rules_of(mailing))
    )
    if after is not None:
        statement = statement.where(Subscriber.id > after)
    rows = session.execute(statement.order_by(Subscriber.id).limit(limit))
    return [(row[0], row[1]) for row in rows]


def grant_override(session: Session, *, mailing: Mailing) -> None:
    """Allow one more release of a mailing that was released already."""
    if mailing.status == MailingStatus.DRAFT:
        raise Conflict("the mailing has not been released; it needs no override")
    if mailing.status == MailingStatus.OVERRIDE_GRANTED:
        raise Conflict("an override for this mailing is already waiting to be used")
    mailing.status = MailingStatus.OVERRIDE_GRANTED
    session.flush()


def claim_release(
    session: Session, *, mailing_id: uuid.UUID, now: datetime
) -> tuple[Mailing, bool]:
    """Mark the mailing released, atomically, so two concurrent releases cannot both proceed.

    Returns the mailing and whether a compliance override was used up.
    """
    mailing = get(session, mailing_id)
    used_override = mailing.status == MailingStatus.OVERRIDE_GRANTED
    result = session.execute(
        update(Mailing)
        .where(Mailing.id == mailing_id, Mailing.status.in_([str(s) for s in RELEASABLE]))
        .values(status=MailingStatus.RELEASED, releases=Mailing.releases + 1, released_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "the mailing was released already; a second release needs an override "
            "granted by compliance (POST /v1/mailings/{id}/override)"
        )
    session.refresh(mailing)
    return mailing, used_override
