"""Subject access (GDPR art. 15): everything held about one address, found by its digests.

The answer names the address only as the caller gave it; nothing here decrypts a local part,
because the caller already knows the address and the store has no other personal data on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.addresses import Address
from vault.crypto import KeySuite
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
        "generated_at": _iso(now),
    }
