"""``/v1/lists``: create lists, list them with counts, show one list's counts (marketing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import func, select

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import ListCreate, ListDetail, ListPublic, Name
from vault.principals.permissions import Permission
from vault.subscribers import services as subscribers
from vault.subscribers.models import Subscriber, SubscriberStatus

router = APIRouter(prefix="/lists", tags=["lists"])


@router.post("", response_model=ListPublic, status_code=201)
def create_list(
    body: ListCreate, store: Store, caller: Annotated[Caller, Allowed(Permission.LIST_CREATE)]
) -> ListPublic:
    created = store.acting_as(caller.actor).create_list(body.name)
    return ListPublic(id=created.id, name=created.name, created_at=created.created_at, subscribed=0)


@router.get("", response_model=list[ListPublic])
def all_lists(
    store: Store, caller: Annotated[Caller, Allowed(Permission.LIST_READ)]
) -> list[ListPublic]:
    with store.read() as session:
        counts = {
            row[0]: int(row[1])
            for row in session.execute(
                select(Subscriber.list_id, func.count())
                .where(Subscriber.status == SubscriberStatus.SUBSCRIBED)
                .group_by(Subscriber.list_id)
            )
        }
        return [
            ListPublic(
                id=m.id, name=m.name, created_at=m.created_at, subscribed=counts.get(m.id, 0)
            )
            for m in subscribers.all_lists(session)
        ]


@router.get("/{name}", response_model=ListDetail)
def show_list(
    name: Name, store: Store, caller: Annotated[Caller, Allowed(Permission.LIST_READ)]
) -> ListDetail:
    with store.read() as session:
        found = subscribers.get_list(session, name)
        by_status = {
            str(row[0]): int(row[1])
            for row in session.execute(
                select(Subscriber.status, func.count())
                .where(Subscriber.list_id == found.id)
                .group_by(Subscriber.status)
            )
        }
        return ListDetail(
            id=found.id,
            name=found.name,
            created_at=found.created_at,
            subscribed=by_status.get(SubscriberStatus.SUBSCRIBED, 0),
            by_status=by_status,
        )
