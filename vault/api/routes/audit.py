"""``/v1/audit``: read the audit log page by page and verify its hash chain (compliance)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import AuditEntryPublic, AuditPage, ChainPublic
from vault.audit.models import AuditEntry
from vault.audit.services import verify_chain
from vault.principals.permissions import Permission

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def entries(
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.AUDIT_READ)],
    after: Annotated[int, Query(ge=0, le=2**62, description="Entries with seq above this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    tag: Annotated[str | None, Query(max_length=80, pattern=r"^[a-z_]+:[a-z_-]+$")] = None,
) -> AuditPage:
    statement = select(AuditEntry).where(AuditEntry.seq > after)
    if tag is not None:
        statement = statement.where(AuditEntry.tag == tag)
    with store.read() as session:
        rows = session.scalars(statement.order_by(AuditEntry.seq).limit(limit)).all()
        page = [
            AuditEntryPublic(
                seq=e.seq,
                id=e.id,
                at=e.at,
                actor=e.actor,
                role=e.role,
                tag=e.tag,
                subject=e.subject,
                details=e.details,
                key_id=f"{e.key_id:08x}",
            )
            for e in rows
        ]
    return AuditPage(entries=page, next=page[-1].seq if len(page) == limit else None)


@router.get("/verify", response_model=ChainPublic)
def verify(
    store: Store, caller: Annotated[Caller, Allowed(Permission.AUDIT_VERIFY)]
) -> ChainPublic:
    with store.read() as session:
        report = verify_chain(session, keyring=store.keyring)
    return ChainPublic(
        ok=report.ok,
        entries=report.entries,
        first_broken_seq=report.first_broken_seq,
        problem=report.problem,
        detail=report.describe(),
    )
