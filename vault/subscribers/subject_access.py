"""Subject access (GDPR art. 15): everything held about one address, found by its digests.

The answer names the address only as the caller gave it; nothing here decrypts a local part,
because the caller already knows the address and the store has no other personal data on it.
Delivery outcomes are counted per subscription (they hold no address); the bounce state is
reported by its existence and age, never by its digest.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.addresses import Address
from vault.crypto import KeySuite
from vault.deliveries.models import DeliveryOutcome
from vault.deliveries.services import bounce_state
from vault.subscribers.models import ConsentRecord, MailingList
from vault.subscribers.services import find_everywhere
from vault.suppressions import services as suppressions


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def subject_access(
    session: Session, *, keys: KeySuite, address: Address, given: str, now: datetime
) -> dict[str, Any]:
    """A JSON-ready account of every record tied to the address."""
    subscribers = find_everywhere(session, keys=keys, canonical=address.canonical)
    names = {
        row.id: row.name
        for row in session.execute(
            select(MailingList.id, MailingList.name).where(
                MailingList.id.in_([s.list_id for s in subscribers])
            )
        )
    }
    outcomes = _outcome_counts(session, [s.id for s in subscribers])
    subscriptions = []
    for subscriber in subscribers:
        events = session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.subscriber_id == subscriber.id)
            .order_by(ConsentRecord.at)
        )
        subscriptions.append(
            {
                "list": names.get(subscriber.list_id),
                "subscriber_id": str(subscriber.id),
                "status": subscriber.status,
                "status_changed_at": _iso(subscriber.status_changed_at),
                "subscribed_at": _iso(subscriber.created_at),
                "last_activity_at": _iso(subscriber.last_activity_at),
                "consent": [
                    {
                        "event": "granted",
                        "method": subscriber.consent_method,
                        "source": subscriber.consent_source,
                        "at": _iso(subscriber.consent_at),
                    },
                    *[
                        {"event": e.event, "method": e.method, "source": e.source, "at": _iso(e.at)}
                        for e in events
                    ],
                ],
                "delivery_outcomes": outcomes.get(
                    subscriber.id, {"count": 0, "by_reason": {}, "last_at": None}
                ),
            }
        )
    entries = suppressions.entries_for(session, keys=keys, canonical=address.canonical, now=now)
    scope_names = {str(k): v for k, v in names.items()}
    missing = [e.scope for e in entries if e.scope != "global" and e.scope not in scope_names]
    if missing:
        for row in session.execute(
            select(MailingList.id, MailingList.name).where(
                MailingList.id.in_([uuid.UUID(m) for m in missing])
            )
        ):
            scope_names[str(row.id)] = row.name
    return {
        "address": given,
        "domain": address.domain,
        "subscriptions": subscriptions,
        "suppressions": [
            {
                "reason": e.reason,
                "scope": "global"
                if e.scope == "global"
                else f"list:{scope_names.get(e.scope, e.scope)}",
                "source": e.source,
                "created_at": _iso(e.created_at),
                "expires_at": _iso(e.expires_at),
            }
            for e in entries
        ],
        "bounce_state": _bounce_state(session, keys=keys, canonical=address.canonical),
        "generated_at": _iso(now),
    }


def _outcome_counts(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per subscriber: how many delivery outcomes, by reason, and the latest one's time."""
    counts: dict[uuid.UUID, dict[str, Any]] = {}
    if not ids:
        return counts
    rows = session.execute(
        select(
            DeliveryOutcome.subscriber_id,
            DeliveryOutcome.reason,
            func.count(),
            func.max(DeliveryOutcome.occurred_at),
        )
        .where(DeliveryOutcome.subscriber_id.in_(ids))
        .group_by(DeliveryOutcome.subscriber_id, DeliveryOutcome.reason)
        .order_by(DeliveryOutcome.subscriber_id, DeliveryOutcome.reason)
    )
    latest: dict[uuid.UUID, datetime] = {}
    for subscriber_id, reason, count, last in rows:
        assert subscriber_id is not None  # selected by id
        entry = counts.setdefault(subscriber_id, {"count": 0, "by_reason": {}, "last_at": None})
        entry["count"] += int(count)
        entry["by_reason"][reason] = int(count)
        if last is not None and (subscriber_id not in latest or last > latest[subscriber_id]):
            latest[subscriber_id] = last
            entry["last_at"] = _iso(last)
    return counts


def _bounce_state(session: Session, *, keys: KeySuite, canonical: str) -> dict[str, Any]:
    """Whether bounces are being remembered for the address (pending or counting), not how."""
    row = bounce_state(session, keys=keys, canonical=canonical)
    return {"held": row is not None, "updated_at": _iso(row.updated_at) if row else None}
