"""A synchronous test client for the ASGI app: httpx over ``ASGITransport``, on one event loop
thread per client (``starlette.testclient`` wants a package the suite does not need)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI


class ApiClient:
    def __init__(self, app: FastAPI, portal: BlockingPortal, token: str | None = None) -> None:
        self.app = app
        self._portal = portal
        self.token = token
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )

    def as_(self, token: str | None) -> ApiClient:
        """The same app, calling with another token (None: no Authorization header)."""
        return ApiClient(self.app, self._portal, token)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self._portal.call(
            lambda: self._client.request(method, url, headers=headers, **kwargs)
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@contextmanager
def api_client(app: FastAPI) -> Iterator[ApiClient]:
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        yield ApiClient(app, portal)
