"""``POST /v1/subjects/erase``: erase a data subject everywhere (compliance)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import Erasure, ErasurePublic
from vault.principals.permissions import Permission

router = APIRouter(prefix="/subjects", tags=["subjects"])


@router.post("/erase", response_model=ErasurePublic)
def erase(
    body: Erasure, store: Store, caller: Annotated[Caller, Allowed(Permission.SUBJECT_ERASE)]
) -> ErasurePublic:
    result = store.acting_as(caller.actor).erase(body.address, source=body.source)
    return ErasurePublic(
        subscribers_removed=result.subscribers_removed,
        lists=result.lists,
        suppression_added=result.suppression_added,
    )
