"""Runs a PolicyServer on an event loop of its own in a background thread, for tests whose
client side blocks (smtplib, a real Postfix, urllib)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vault.policy.daemon import PolicyServer
from vault.policy.lookup import SuppressionLookup


class ServerThread:
    def __init__(self, lookup: SuppressionLookup, **options: Any) -> None:
        self._lookup = lookup
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server: PolicyServer | None = None

    def start(self) -> PolicyServer:
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.server

    async def _start(self) -> PolicyServer:
        server = PolicyServer(self._lookup, **self._options)
        await server.start()
        return server

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()


@contextmanager
def server_in_thread(lookup: SuppressionLookup, **options: Any) -> Iterator[PolicyServer]:
    runner = ServerThread(lookup, **options)
    server = runner.start()
    try:
        yield server
    finally:
        runner.stop()
