"""``/v1/principals``: API principals and their tokens (admin). Tokens are shown once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from vault.api import auditing
from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import Name, PrincipalCreate, PrincipalCreated, PrincipalPublic
from vault.principals import services as principals
from vault.principals.models import Principal
from vault.principals.permissions import Permission

router = APIRouter(prefix="/principals", tags=["principals"])


def public(principal: Principal) -> PrincipalPublic:
    return PrincipalPublic(
        id=principal.id,
        name=principal.name,
        roles=sorted(principals.roles_of(principal)),
        token_prefix=principal.token_prefix,
        created_at=principal.created_at,
        revoked_at=principal.revoked_at,
    )


@router.get("", response_model=list[PrincipalPublic])
def list_principals(
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.PRINCIPAL_READ)],
    include_revoked: bool = False,
) -> list[PrincipalPublic]:
    with store.read() as session:
        found = principals.all_principals(session, include_revoked=include_revoked)
        return [public(p) for p in found]


@router.post("", response_model=PrincipalCreated, status_code=201)
def create_principal(
    body: PrincipalCreate,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.PRINCIPAL_CREATE)],
) -> PrincipalCreated:
    with store.write() as session:
        principal, token = principals.create(
            session, keyring=store.keyring, name=body.name, roles=body.roles, now=store.now()
        )
        auditing.record(
            session,
            store,
            caller,
            tag="principal:create",
            subject=f"principal:{principal.id}",
            roles=principal.roles,
            token_key_id=f"{principal.token_key_id:08x}",
        )
        return PrincipalCreated(principal=public(principal), token=token)


@router.post("/{name}/revoke", response_model=PrincipalPublic)
def revoke_principal(
    name: Name, store: Store, caller: Annotated[Caller, Allowed(Permission.PRINCIPAL_REVOKE)]
) -> PrincipalPublic:
    with store.write() as session:
        principal = principals.revoke(session, name=name, now=store.now())
        auditing.record(
            session, store, caller, tag="principal:revoke", subject=f"principal:{principal.id}"
        )
        return public(principal)
