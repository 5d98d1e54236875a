"""Request body limits, enforced before any handler reads the body.

A declared ``Content-Length`` over the limit is refused at once; a body without one (chunked)
is counted as it streams and refused as soon as it passes the limit. A few paths have a limit
of their own (``per_path``): ``POST /v1/events`` takes a raw bounce, which may quote the whole
original message, so it allows ``vault.deliveries.reports.MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault.api.errors import BodyTooLarge, for_error

DEFAULT_MAX_BODY = 2 * 1024 * 1024


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = DEFAULT_MAX_BODY,
        per_path: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    @staticmethod
    def _refuse(limit: int) -> BodyTooLarge:
        return BodyTooLarge(f"the request body is over the {limit}-byte limit")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await for_error(self._refuse(limit))(scope, receive, send)
                    return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now and tell the application the client went away, so whatever
                    # it makes of a cut-off body is never sent.
                    refused = True
                    if not started:
                        await for_error(self._refuse(limit))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
