"""The one place where failures become HTTP: RFC 9457 ``application/problem+json`` bodies.

    MailvaultError tree (vault.errors)     -> 400 / 403 / 404 / 409 / 422 / 500
    NotAuthenticated                        -> 401 with ``WWW-Authenticate: Bearer``
    BodyTooLarge                            -> 413
    RequestValidationError (FastAPI)        -> 422, listing where and what, never the input
    Starlette HTTPException (404, 405, ...) -> its status
    database unavailable                    -> 503; anything else -> 500 with no internals

A ``detail`` never carries an address: mailvault's own messages name problems, not inputs, and
pydantic's error list is reduced to location, message and type.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vault.errors import (
    ConfigError,
    Conflict,
    InputError,
    InvalidAddress,
    InvalidCiphertext,
    KeyringError,
    MailvaultError,
    NotFound,
    PermissionDenied,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("vault.api")


class NotAuthenticated(MailvaultError):
    """No bearer token, or one that is unknown, malformed or revoked."""


class BodyTooLarge(MailvaultError):
    """A request body over the configured limit."""


# (status, type slug) per error class; the first match in the class's MRO wins.
_STATUS: dict[type[MailvaultError], tuple[int, str]] = {
    NotAuthenticated: (401, "unauthenticated"),
    PermissionDenied: (403, "forbidden"),
    NotFound: (404, "not-found"),
    Conflict: (409, "conflict"),
    BodyTooLarge: (413, "body-too-large"),
    InvalidAddress: (422, "invalid-address"),
    InputError: (422, "invalid-input"),
    ConfigError: (500, "server-misconfigured"),
    KeyringError: (500, "server-misconfigured"),
    InvalidCiphertext: (500, "internal-error"),
    MailvaultError: (400, "bad-request"),
}
# Server-side failures keep their message in the server log; the client gets a fixed one.
_OPAQUE = {500}


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:mailvault:problem:{slug}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def for_error(error: MailvaultError) -> JSONResponse:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            status, slug = _STATUS[cls]
            break
    else:  # pragma: no cover - MailvaultError is in the table
        status, slug = 400, "bad-request"
    if status in _OPAQUE:
        log.error("request failed: %s: %s", type(error).__name__, error)
        return problem(status, slug, "the server cannot complete this request; see its log")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, slug, str(error), headers=headers)


_SAFE_LOC = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _loc(parts: tuple[Any, ...] | list[Any]) -> list[str | int]:
    # Locations name fields and positions; a key the caller invented (an extra field, which
    # could be an address) is replaced rather than echoed.
    return [p if isinstance(p, int) or _SAFE_LOC.fullmatch(str(p)) else "<key>" for p in parts]


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "value_error":
        return message  # our own validators' messages: they name problems, not inputs
    # pydantic sometimes appends a fragment of the input after a colon ("found `@` at 5").
    return message.split(":")[0]


def validation_problem(error: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": _loc(e.get("loc", ())), "msg": _message(e), "type": str(e.get("type", ""))}
        for e in error.errors()
    ]
    where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    detail = f"the request is malformed at {where}" if where else "the request is malformed"
    return problem(422, "validation-error", detail, errors=errors)


def install(app: FastAPI) -> None:
    async def on_mailvault_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, MailvaultError)
        return for_error(error)

    async def on_validation_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return validation_problem(error)

    async def on_http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code)
        slug = HTTPStatus(error.status_code).phrase.lower().replace(" ", "-")
        headers = dict(error.headers) if error.headers else None
        return problem(error.status_code, slug, str(detail), headers=headers)

    async def on_database_down(_request: Request, error: Exception) -> JSONResponse:
        log.error("database unavailable: %s", type(error).__name__)
        return problem(503, "database-unavailable", "the database is unavailable; try again")

    async def on_anything(_request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected %s", type(error).__name__)
        return problem(500, "internal-error", "the server failed; see its log")

    app.add_exception_handler(MailvaultError, on_mailvault_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(Exception, on_anything)
