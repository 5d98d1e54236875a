"""``/v1/me``: who the token belongs to and what it may do (any valid token)."""

from __future__ import annotations

from fastapi import APIRouter

from vault.api.deps import CurrentPrincipal
from vault.api.schemas import Me

router = APIRouter(tags=["principals"])


@router.get("/me", response_model=Me)
async def me(identity: CurrentPrincipal) -> Me:
    return Me(
        id=identity.id,
        name=identity.name,
        roles=sorted(identity.roles),
        permissions=sorted(identity.permissions),
    )
