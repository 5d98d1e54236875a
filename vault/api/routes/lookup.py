"""``POST /v1/lookup``: support's one-address answer (status, consent history, suppressions).

The address comes in the body, never the URL, so it cannot land in an access log. There is no
listing or paging here: one address in, what is known about it out. An unknown address gets an
empty answer, not a 404; either way the lookup is audited by domain, never by address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from vault.addresses import parse_address
from vault.api import auditing
from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import (
    AddressQuery,
    ConsentEvent,
    LookupPublic,
    Membership,
    SuppressionPublic,
)
from vault.principals.permissions import Permission
from vault.subscribers import services as subscribers
from vault.suppressions import services as suppressions
from vault.suppressions.models import GLOBAL_SCOPE

router = APIRouter(tags=["lookup"])


@router.post("/lookup", response_model=LookupPublic)
def lookup(
    body: AddressQuery,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.SUBSCRIBER_LOOKUP)],
) -> LookupPublic:
    address = parse_address(body.address)
    now = store.now()
    with store.write() as session:
        found = subscribers.find_everywhere(session, keys=store.keys, canonical=address.canonical)
        entries = suppressions.entries_for(
            session, keys=store.keys, canonical=address.canonical, now=now
        )
        names = subscribers.list_names(
            session,
            [str(s.list_id) for s in found] + [e.scope for e in entries if e.scope != GLOBAL_SCOPE],
        )
        memberships = [
            Membership(
                list=names.get(str(s.list_id), str(s.list_id)),
                subscriber_id=s.id,
                status=s.status,
                status_changed_at=s.status_changed_at,
                consent=[
                    ConsentEvent(
                        event="granted",
                        method=s.consent_method,
                        source=s.consent_source,
                        at=s.consent_at,
                    ),
                    *(
                        ConsentEvent(event=c.event, method=c.method, source=c.source, at=c.at)
                        for c in sorted(s.consents, key=lambda c: c.at)
                    ),
                ],
            )
            for s in found
        ]
        listed = [
            SuppressionPublic(
                reason=e.reason,
                scope=e.scope if e.scope == GLOBAL_SCOPE else f"list:{names.get(e.scope, e.scope)}",
                source=e.source,
                created_at=e.created_at,
                expires_at=e.expires_at,
            )
            for e in entries
        ]
        auditing.record(
            session,
            store,
            caller,
            tag="subscriber:lookup",
            subject=f"domain:{address.domain}",
            subscriber_ids=[str(s.id) for s in found],
            suppressions=len(entries),
        )
    return LookupPublic(
        address=body.address,
        suppressed=bool(entries),
        subscriptions=memberships,
        suppressions=listed,
    )
