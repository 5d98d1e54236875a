"""``/v1/reports``: subscribers per domain and suppressions per reason (marketing). Counts only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import case, func, select

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import DomainCount, Name, SuppressionCount
from vault.principals.permissions import Permission
from vault.subscribers import services as subscribers
from vault.suppressions.models import GLOBAL_SCOPE, Suppression

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/domains", response_model=list[DomainCount])
def domains(
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.REPORT_READ)],
    list: Name | None = None,
) -> list[DomainCount]:
    with store.read() as session:
        list_id = None if list is None else subscribers.get_list(session, list).id
        rows = subscribers.domain_counts(session, list_id=list_id)
    return [DomainCount(domain=d, count=n) for d, n in rows]


@router.get("/suppressions", response_model=list[SuppressionCount])
def suppressions(
    store: Store, caller: Annotated[Caller, Allowed(Permission.REPORT_READ)]
) -> list[SuppressionCount]:
    scope = case((Suppression.scope == GLOBAL_SCOPE, "global"), else_="list")
    now = store.now()
    with store.read() as session:
        rows = session.execute(
            select(Suppression.reason, scope, func.count())
            .where((Suppression.expires_at.is_(None)) | (Suppression.expires_at > now))
            .group_by(Suppression.reason, scope)
            .order_by(Suppression.reason, scope)
        ).all()
    return [SuppressionCount(reason=r, scope=s, count=int(n)) for r, s, n in rows]
