"""``/v1/reports``: subscribers per domain and suppressions per reason (marketing), purge runs
(compliance). Counts and dates only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import case, func, select

from vault.api.deps import Allowed, Caller, Store
from vault.api.schemas import DomainCount, Name, PurgeFormat, SuppressionCount
from vault.principals.permissions import Permission
from vault.retention.reports import purge_reports, to_csv, to_html, to_json
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


_PURGE_MEDIA = {
    PurgeFormat.JSON: "application/json",
    PurgeFormat.CSV: "text/csv; charset=utf-8",
    PurgeFormat.HTML: "text/html; charset=utf-8",
}
# The HTML report is self-contained (inline style and SVG): nothing else may load or run.
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@router.get(
    "/purges",
    response_class=Response,
    responses={
        200: {
            "description": "Every purge run since the date: rules, removals per record class, "
            "oldest record remaining, audit entry",
            "content": {media: {} for media in _PURGE_MEDIA.values()},
        }
    },
)
def purges(
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.PURGE_READ)],
    since: Annotated[date | None, Query(description="Runs started on or after this day")] = None,
    format_: Annotated[PurgeFormat, Query(alias="format")] = PurgeFormat.JSON,
) -> Response:
    start = None if since is None else datetime(since.year, since.month, since.day, tzinfo=UTC)
    with store.read() as session:
        reports = purge_reports(session, since=start)
    headers = {"Cache-Control": "no-store"}
    if format_ is PurgeFormat.JSON:
        text = to_json(reports)
    elif format_ is PurgeFormat.CSV:
        text = to_csv(reports)
        headers["Content-Disposition"] = 'attachment; filename="purge-report.csv"'
    else:
        # The database's name, not its URL: which store, without host or user.
        label = f"mailvault store {PurePath(store.engine.url.database or 'mailvault').name}"
        text = to_html(reports, generated_at=store.now(), store_label=label)
        headers.update(_HTML_HEADERS)
    return Response(text, media_type=_PURGE_MEDIA[format_], headers=headers)
