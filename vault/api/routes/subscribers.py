"""``/v1/lists/{name}/subscribers`` and ``/unsubscribe``: one address in the body, never a URL.

An unsubscribe answers the same whether or not the address was on the list, so the answer says
nothing about who is subscribed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import (
    Name,
    SubscribePublic,
    SubscriberCreate,
    Unsubscribe,
    UnsubscribePublic,
)
from vault.principals.permissions import Permission

router = APIRouter(prefix="/lists/{name}", tags=["subscribers"])


@router.post("/subscribers", response_model=SubscribePublic, status_code=201)
def subscribe(
    name: Name,
    body: SubscriberCreate,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.SUBSCRIBER_CREATE)],
    response: Response,
) -> SubscribePublic:
    result = store.acting_as(caller.actor).subscribe(
        body.address, list_name=name, consent=body.consent, source=body.source
    )
    if result.outcome != "created":
        response.status_code = 200
    return SubscribePublic(outcome=str(result.outcome), subscriber_id=result.subscriber_id)


@router.post("/unsubscribe", response_model=UnsubscribePublic)
def unsubscribe(
    name: Name,
    body: Unsubscribe,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.SUBSCRIBER_UNSUBSCRIBE)],
) -> UnsubscribePublic:
    store.acting_as(caller.actor).unsubscribe(body.address, list_name=name, source=body.source)
    return UnsubscribePublic(list=name)
