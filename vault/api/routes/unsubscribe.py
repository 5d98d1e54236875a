"""``/u/{token}``: the one-click unsubscribe link of RFC 8058, outside ``/v1`` and without login.

The token is the credential: it verifies or the answer is a 404 page that changes nothing.
``GET`` only shows a button (mail scanners follow links); ``POST``, whatever its body, is the
unsubscribe itself, idempotent, answered with the same page every time and never a redirect.
Nothing here reads or echoes an address; the access log shortens the token (``vault.api.logging``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vault.api.deps import Store
from vault.errors import InvalidToken
from vault.unsubscribe import (
    PAGE_HEADERS,
    render_confirmation_page,
    render_done_page,
    render_invalid_page,
)

router = APIRouter(prefix="/u", tags=["unsubscribe"])

#: Marks an operation that needs no token; the role x endpoint tests read it from OpenAPI.
PUBLIC: dict[str, Any] = {"x-public": True, "security": []}
_PAGES: dict[int | str, dict[str, Any]] = {
    404: {"description": "The link does not verify (an HTML page)", "content": {"text/html": {}}}
}


def _invalid() -> HTMLResponse:
    return HTMLResponse(render_invalid_page(), status_code=404, headers=PAGE_HEADERS)


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    openapi_extra=PUBLIC,
    responses=_PAGES,
    summary="The page behind an unsubscribe link: one button, no change",
)
def confirmation_page(token: str, store: Store) -> HTMLResponse:
    try:
        store.verify_unsubscribe_token(token)
    except InvalidToken:
        return _invalid()
    return HTMLResponse(render_confirmation_page(token), headers=PAGE_HEADERS)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    openapi_extra=PUBLIC,
    responses=_PAGES,
    summary="One-click unsubscribe (RFC 8058): send List-Unsubscribe=One-Click",
)
def one_click(token: str, store: Store) -> HTMLResponse:
    # The body (List-Unsubscribe=One-Click, as a form or anything else) is not read: the token
    # alone says who and from which list, and the act is the same whatever the client sends.
    try:
        store.unsubscribe_by_token(token)
    except InvalidToken:
        return _invalid()
    return HTMLResponse(render_done_page(), headers=PAGE_HEADERS)
