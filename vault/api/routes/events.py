"""``POST /v1/events``: a sender reports a delivery outcome, as a JSON event or a raw message.

``application/json``: one delivery event (``vault.deliveries.events``), answered with what it
led to. ``message/rfc822``: one raw bounce, complaint or auto-reply, ingested like one message
of ``mailvault ingest``, answered with counts. Neither answer carries the recipient: the caller
knows whom it reported on, and a decision needs no echo.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vault.api.deps import Allowed, Caller, Store
from vault.api.errors import UnsupportedMediaType
from vault.api.schemas import EventDecision, MessageIngested
from vault.deliveries import parse_event_json
from vault.deliveries.events import MAX_EVENT_BYTES
from vault.deliveries.reports import MAX_MESSAGE_BYTES
from vault.principals.permissions import Permission

router = APIRouter(tags=["events"])

JSON = "application/json"
MESSAGE = "message/rfc822"

_EXAMPLE_EVENT = {
    "type": "bounce",
    "recipient": "someone@example.com",
    "status": "5.1.1",
    "diagnostic": "550 5.1.1 user unknown",
    "occurred_at": "2026-03-01T09:30:00Z",
    "list": "news",
}
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "required": ["type", "recipient"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["bounce", "complaint", "delivered", "deferred"]},
                    "recipient": {"type": "string"},
                    "status": {"type": "string", "description": "RFC 3463, e.g. 5.1.1"},
                    "diagnostic": {"type": "string"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "list": {"type": "string", "description": "A list name or id"},
                },
            },
            "example": _EXAMPLE_EVENT,
        },
        MESSAGE: {
            "schema": {"type": "string", "format": "binary"},
            "description": f"A raw message, at most {MAX_MESSAGE_BYTES} bytes",
        },
    },
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@router.post(
    "/events",
    response_model=EventDecision | MessageIngested,
    openapi_extra={"requestBody": _REQUEST_BODY},
    description=(
        f"A JSON delivery event (`{JSON}`, at most {MAX_EVENT_BYTES} bytes) or a raw bounce "
        f"or complaint (`{MESSAGE}`, at most {MAX_MESSAGE_BYTES} bytes). Other content types: "
        "415."
    ),
)
async def record_event(
    request: Request,
    store: Store,
    caller: Annotated[Caller, Allowed(Permission.EVENT_CREATE)],
) -> EventDecision | MessageIngested:
    media_type = _media_type(request)
    if media_type not in (JSON, MESSAGE):
        raise UnsupportedMediaType(f"send {JSON} (a delivery event) or {MESSAGE} (a raw message)")
    body = await request.body()
    acting = store.acting_as(caller.actor)
    if media_type == JSON:
        event = parse_event_json(body)
        decision = await run_in_threadpool(acting.record_event, event)
        return EventDecision(
            action=str(decision.action),
            taken=str(decision.taken),
            suppression=str(decision.suppression) if decision.suppression else None,
            outcome_id=decision.outcome_id,
        )
    summary = await run_in_threadpool(lambda: acting.ingest([body], origin="api"))
    return MessageIngested(
        run_id=summary.run_id,
        **summary.counts(),
        problems=[problem for _, problem in summary.problems],
    )
