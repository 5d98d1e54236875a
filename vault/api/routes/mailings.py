"""``/v1/segments`` and ``/v1/mailings``: marketing builds and counts; a sender releases.

Marketing sees counts per domain, subscriber ids and domains, never a local part. The release
(``sender`` only, with a reason) is the one response in the API that carries addresses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from vault.api import auditing
from vault.api.deps import Allowed, Caller, PublicUrl, Store
from vault.api.schemas import (
    DomainCount,
    MailingCreate,
    MailingDetail,
    MailingPublic,
    Reason,
    RecipientPage,
    RecipientRef,
    SegmentPreview,
    SegmentRules,
)
from vault.mailings import release as releases
from vault.mailings import services as mailings
from vault.mailings.models import Mailing
from vault.mailings.segments import DomainRules
from vault.principals.permissions import Permission
from vault.store import Vault
from vault.subscribers import services as subscribers

router = APIRouter(tags=["mailings"])
log = logging.getLogger("vault.api.release")
NDJSON = "application/x-ndjson"


def _public(mailing: Mailing, list_name: str) -> MailingPublic:
    return MailingPublic(
        id=mailing.id,
        name=mailing.name,
        list=list_name,
        include_domains=list(mailing.include_domains),
        exclude_domains=list(mailing.exclude_domains),
        status=mailing.status,
        releases=mailing.releases,
        created_at=mailing.created_at,
        released_at=mailing.released_at,
    )


def _counts(rows: list[tuple[str, int]]) -> list[DomainCount]:
    return [DomainCount(domain=domain, count=count) for domain, count in rows]


@router.post("/segments/preview", response_model=SegmentPreview)
def preview_segment(
    body: SegmentRules,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.SEGMENT_PREVIEW)],
) -> SegmentPreview:
    rules = DomainRules.parse(body.include_domains, body.exclude_domains)
    with store.read() as session:
        found = subscribers.get_list(session, body.list)
        rows = mailings.domain_counts(session, list_id=found.id, rules=rules)
    return SegmentPreview(
        list=found.name,
        include_domains=list(rules.include),
        exclude_domains=list(rules.exclude),
        total=sum(n for _, n in rows),
        domains=_counts(rows),
    )


@router.post("/mailings", response_model=MailingPublic, status_code=201)
def create_mailing(
    body: MailingCreate,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.MAILING_CREATE)],
) -> MailingPublic:
    rules = DomainRules.parse(body.include_domains, body.exclude_domains)
    with store.write() as session:
        found = subscribers.get_list(session, body.list)
        mailing = mailings.create(
            session,
            name=body.name,
            mailing_list=found,
            rules=rules,
            created_by=caller.actor.name,
            now=store.now(),
        )
        auditing.record(
            session,
            store,
            caller,
            tag="mailing:create",
            subject=f"mailing:{mailing.id}",
            list_id=str(found.id),
            include_domains=list(rules.include),
            exclude_domains=list(rules.exclude),
        )
        return _public(mailing, found.name)


@router.get("/mailings", response_model=list[MailingPublic])
def all_mailings(
    store: Store, caller: Annotated[Caller, Allowed(Permission.MAILING_READ)]
) -> list[MailingPublic]:
    with store.read() as session:
        names = {str(m.id): m.name for m in subscribers.all_lists(session)}
        return [_public(m, names.get(str(m.list_id), "")) for m in mailings.all_mailings(session)]


@router.get("/mailings/{mailing_id}", response_model=MailingDetail)
def show_mailing(
    mailing_id: uuid.UUID,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.MAILING_READ)],
) -> MailingDetail:
    with store.read() as session:
        mailing = mailings.get(session, mailing_id)
        rows = mailings.domain_counts(
            session, list_id=mailing.list_id, rules=mailings.rules_of(mailing)
        )
        names = subscribers.list_names(session, [str(mailing.list_id)])
        public = _public(mailing, names.get(str(mailing.list_id), ""))
    return MailingDetail(
        **public.model_dump(), total=sum(n for _, n in rows), domains=_counts(rows)
    )


@router.get("/mailings/{mailing_id}/recipients", response_model=RecipientPage)
def mailing_recipients(
    mailing_id: uuid.UUID,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.MAILING_READ)],
    after: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> RecipientPage:
    with store.read() as session:
        mailing = mailings.get(session, mailing_id)
        page = mailings.recipient_page(session, mailing=mailing, after=after, limit=limit)
    items = [RecipientRef(subscriber_id=i, domain=d) for i, d in page]
    return RecipientPage(items=items, next=page[-1][0] if len(page) == limit else None)


@router.post("/mailings/{mailing_id}/override", response_model=MailingPublic)
def grant_override(
    mailing_id: uuid.UUID,
    body: Reason,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.MAILING_OVERRIDE)],
) -> MailingPublic:
    with store.write() as session:
        mailing = mailings.get(session, mailing_id)
        mailings.grant_override(session, mailing=mailing)
        auditing.record(
            session,
            store,
            caller,
            tag="mailing:override",
            subject=f"mailing:{mailing.id}",
            reason=body.reason,
            releases_so_far=mailing.releases,
        )
        names = subscribers.list_names(session, [str(mailing.list_id)])
        return _public(mailing, names.get(str(mailing.list_id), ""))


@router.post(
    "/mailings/{mailing_id}/release",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {}},
            "description": (
                'One JSON object per line: {"subscriber_id": ..., "address": ..., '
                '"list_unsubscribe": "<https://.../u/TOKEN>", "list_unsubscribe_post": '
                '"List-Unsubscribe=One-Click"} (the values of the List-Unsubscribe and '
                "List-Unsubscribe-Post header fields to add to that recipient's message); the "
                'last line is {"summary": {"released": n, "suppressed": n, "undecryptable": n}}. '
                "A stream that ends without the summary line was cut short."
            ),
        }
    },
)
def release(
    mailing_id: uuid.UUID,
    body: Reason,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.MAILING_RELEASE)],
    public_url: PublicUrl,
) -> StreamingResponse:
    # Step 1 runs before the response starts: if the claim or its audit entry fails, the
    # caller gets an error and not one address.
    ticket = releases.start(store, actor=caller.actor, mailing_id=mailing_id, reason=body.reason)
    return StreamingResponse(
        _stream(store, caller, ticket, public_url),
        media_type=NDJSON,
        headers={"Cache-Control": "no-store"},
    )


def _stream(
    store: Vault, caller: Caller, ticket: releases.ReleaseTicket, public_url: str
) -> Iterator[bytes]:
    report = releases.ReleaseReport()
    blocks = releases.ndjson_blocks(store, ticket, report, public_url=public_url)
    try:
        for block in blocks:
            if block:
                yield block
        report.completed = True
    except GeneratorExit:
        report.error = "the client went away"
        raise
    except Exception as exc:
        report.error = type(exc).__name__
        log.error("release of mailing %s failed: %s", ticket.mailing_id, type(exc).__name__)
    finally:
        try:
            # End the audience query (and its read transaction) before the report is written.
            blocks.close()
        except Exception as exc:  # the report must still be written
            log.error(
                "release of mailing %s: ending its query failed: %s",
                ticket.mailing_id,
                type(exc).__name__,
            )
        try:
            releases.finish(store, actor=caller.actor, ticket=ticket, report=report)
        except Exception as exc:
            report.completed = False
            log.error(
                "release report of mailing %s not audited: %s",
                ticket.mailing_id,
                type(exc).__name__,
            )
    if report.completed:
        yield releases.summary_line(report).encode("utf-8")
