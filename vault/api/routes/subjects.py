"""Data subjects (compliance): ``POST /v1/erasures`` erases one everywhere, and
``POST /v1/subject-access`` reports everything held about one (GDPR art. 15 and 17).

The address travels in the body, never the URL. ``POST /v1/subjects/erase`` is the earlier name
of ``/v1/erasures``, kept as a deprecated alias of the same handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import AddressQuery, Erasure, ErasurePublic, SubjectAccessPublic
from vault.principals.permissions import Permission

router = APIRouter(tags=["subjects"])


def erase(
    body: Erasure, store: Store, caller: Annotated[Caller, Allowed(Permission.SUBJECT_ERASE)]
) -> ErasurePublic:
    result = store.acting_as(caller.actor).erase(body.address, source=body.source)
    return ErasurePublic(
        subscribers_removed=result.subscribers_removed,
        lists=result.lists,
        suppression_added=result.suppression_added,
    )


router.add_api_route(
    "/erasures",
    erase,
    methods=["POST"],
    response_model=ErasurePublic,
    summary="Erase a data subject",
    description=(
        "Deletes every subscription, consent record, delivery outcome and bounce state of the "
        "address and adds a global `erasure` suppression, so it is never mailed again."
    ),
)
router.add_api_route(
    "/subjects/erase",
    erase,
    methods=["POST"],
    response_model=ErasurePublic,
    deprecated=True,
    summary="Erase a data subject (deprecated: use POST /v1/erasures)",
)


@router.post("/subject-access", response_model=SubjectAccessPublic)
def subject_access(
    body: AddressQuery,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.SUBJECT_ACCESS)],
) -> SubjectAccessPublic:
    """Everything held about one address: subscriptions with their consent history and
    delivery-outcome counts, suppressions, and whether a bounce state is held. The address is
    echoed as sent; nothing is decrypted."""
    answer = store.acting_as(caller.actor).subject_access(body.address)
    return SubjectAccessPublic.model_validate(answer)
