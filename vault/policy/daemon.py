"""The asyncio server that puts the responder on the wire: policy and socketmap listeners on TCP
or Unix sockets, persistent connections, Prometheus metrics, graceful then hard shutdown.

``serve_policy`` runs until a stop event or SIGTERM; ``PolicyServer`` is the same server for
callers that want to start and stop it themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import cast
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from vault.errors import ConfigError
from vault.policy.errors import ProtocolError
from vault.policy.lookup import SuppressionLookup
from vault.policy.metrics import PolicyMetrics
from vault.policy.netstring import NetstringDecoder
from vault.policy.responder import DEFAULT_UNAVAILABLE_ACTION, Decision, Outcome, Responder
from vault.policy.scope import ScopeRule
from vault.policy.socketmap import (
    MAX_REQUEST_BYTES,
    SocketmapRequest,
    format_socketmap_reply,
    parse_socketmap_request,
)
from vault.policy.wire import PolicyRequest, PolicyRequestParser, format_response

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "BoundAddresses",
    "PolicyServer",
    "parse_host_port",
    "serve_policy",
]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:10040"
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
#: Postfix's smtpd runs as user "postfix": the socket must be writable by its group, and by no
#: one else, or any local user could ask whether an address is suppressed.
DEFAULT_UNIX_MODE = 0o660
_QUEUE_ID = re.compile(r"[0-9A-Za-z]{1,32}")


class Service(StrEnum):
    POLICY = "policy"
    SOCKETMAP = "socketmap"


@dataclass(frozen=True, slots=True)
class BoundAddresses:
    """Where the server listens, with ports as bound (so ``:0`` in tests resolves)."""

    policy: tuple[str, int] | None = None
    policy_unix: str | None = None
    socketmap: tuple[str, int] | None = None
    socketmap_unix: str | None = None
    metrics: tuple[str, int] | None = None


def parse_host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:10040`` or ``[::1]:10040`` → (host, port); port 0 means "any free port"."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"a listen address must look like HOST:PORT, not {text!r}")
    return host, int(port_text)


class _SocketmapFramer:
    """Netstrings in, socketmap requests out: the socketmap counterpart of the policy parser."""

    def __init__(self) -> None:
        self._decoder = NetstringDecoder(max_length=MAX_REQUEST_BYTES)

    def feed(self, data: bytes) -> list[SocketmapRequest]:
        return [parse_socketmap_request(payload) for payload in self._decoder.feed(data)]

    def finish(self) -> None:
        self._decoder.finish()


class PolicyServer:
    """The policy and socketmap listeners around one ``Responder``.

    Lookups are called on the event loop, since the store's table is in memory; a store that
    may block is run with ``lookup_in_thread=True`` and its calls go to the default executor.
    Each connection is an ``asyncio.Protocol`` (``_Connection``): with in-memory lookups the bytes
    that arrive are answered within the same callback, with no task or future per request.
    """

    def __init__(
        self,
        lookup: SuppressionLookup,
        *,
        listen: str | None = None,
        unix: str | None = None,
        socketmap_listen: str | None = None,
        socketmap_unix: str | None = None,
        metrics: str | None = None,
        scope_rules: Sequence[ScopeRule] = (),
        unavailable_action: str = DEFAULT_UNAVAILABLE_ACTION,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        lookup_in_thread: bool = False,
        unix_mode: int = DEFAULT_UNIX_MODE,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not any((listen, unix, socketmap_listen, socketmap_unix)):
            raise ConfigError("the policy server needs at least one listener")
        self._responder = Responder(
            lookup, scope_rules=scope_rules, unavailable_action=unavailable_action
        )
        # Parse now, so that a bad address is refused before anything starts.
        self._listen = parse_host_port(listen) if listen else None
        self._socketmap_listen = parse_host_port(socketmap_listen) if socketmap_listen else None
        self._metrics_listen = parse_host_port(metrics) if metrics else None
        self._unix = unix
        self._socketmap_unix = socketmap_unix
        self._unix_mode = unix_mode
        self._shutdown_timeout = shutdown_timeout
        self._lookup_in_thread = lookup_in_thread
        self.metrics = PolicyMetrics(registry=registry)
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self._connections: set[_Connection] = set()
        self._metrics_http: WSGIServer | None = None
        self._metrics_thread: threading.Thread | None = None
        self._started = False
        self.stopping = False
        self._stopped: asyncio.Task[None] | None = None
        self.bound = BoundAddresses()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind every listener; on any failure, close what was bound and raise ``ConfigError``."""
        if self._started:
            raise RuntimeError("a PolicyServer starts once")
        self._started = True
        try:
            await self._bind_all()
        except BaseException:
            await self._close_listeners()
            self._stop_metrics_http()
            raise
        log.info(
            "policy server listening: policy=%s policy_unix=%s socketmap=%s socketmap_unix=%s "
            "metrics=%s",
            _show(self.bound.policy),
            self.bound.policy_unix or "-",
            _show(self.bound.socketmap),
            self.bound.socketmap_unix or "-",
            _show(self.bound.metrics),
        )

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, then close; hard stop after the timeout.

        Safe to call more than once and from several tasks: all wait for the same shutdown.
        """
        if not self._started:
            return
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._stopped)

    async def __aenter__(self) -> PolicyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _bind_all(self) -> None:
        policy = policy_unix = socketmap = socketmap_unix = metrics = None
        if self._listen:
            policy = await self._bind_tcp(Service.POLICY, self._listen)
        if self._unix:
            policy_unix = await self._bind_unix(Service.POLICY, self._unix)
        if self._socketmap_listen:
            socketmap = await self._bind_tcp(Service.SOCKETMAP, self._socketmap_listen)
        if self._socketmap_unix:
            socketmap_unix = await self._bind_unix(Service.SOCKETMAP, self._socketmap_unix)
        if self._metrics_listen:
            metrics = self._start_metrics_http(self._metrics_listen)
        self.bound = BoundAddresses(
            policy=policy,
            policy_unix=policy_unix,
            socketmap=socketmap,
            socketmap_unix=socketmap_unix,
            metrics=metrics,
        )

    async def _bind_tcp(self, service: Service, where: tuple[str, int]) -> tuple[str, int]:
        host, port = where
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(partial(_Connection, self, service), host, port)
        except OSError as exc:
            raise ConfigError(f"cannot listen for {service} on {host}:{port}: {exc}") from None
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def _bind_unix(self, service: Service, path: str) -> str:
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_unix_server(partial(_Connection, self, service), path)
        except OSError as exc:
            raise ConfigError(f"cannot listen for {service} on {path}: {exc}") from None
        self._servers.append(server)
        self._unix_paths.append(path)
        try:
            os.chmod(path, self._unix_mode)
        except OSError as exc:
            raise ConfigError(f"cannot set the mode of {path}: {exc}") from None
        return path

    def _start_metrics_http(self, where: tuple[str, int]) -> tuple[str, int]:
        host, port = where
        try:
            # prometheus_client's server runs in a thread of its own; the metric objects are
            # thread-safe, so the event loop only ever writes them.
            http, thread = start_http_server(port, addr=host, registry=self.metrics.registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc}") from None
        self._metrics_http, self._metrics_thread = http, thread
        return host, int(http.server_address[1])

    async def _shutdown(self) -> None:
        await self._close_listeners()  # no new connections from here on
        self.stopping = True
        for connection in list(self._connections):
            connection.close_when_idle()  # idle connections close, busy ones finish first
        waiting = {connection: connection.closed for connection in self._connections}
        if waiting:
            log.info("policy server stopping: %d connection(s) to finish", len(waiting))
            _, pending = await asyncio.wait(waiting.values(), timeout=self._shutdown_timeout)
            if pending:
                log.warning(
                    "policy server: %d connection(s) still busy after %.1fs, closing them hard",
                    len(pending),
                    self._shutdown_timeout,
                )
                for connection, closed in waiting.items():
                    if closed in pending:
                        connection.abort()
                await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        if self._metrics_http is not None:
            await asyncio.to_thread(self._stop_metrics_http)
        log.info("policy server stopped")

    async def _close_listeners(self) -> None:
        for server in self._servers:
            server.close()
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._unix_paths.clear()

    def _stop_metrics_http(self) -> None:
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()
            self._metrics_http = None
        if self._metrics_thread is not None:
            self._metrics_thread.join()
            self._metrics_thread = None

    # -- answering ----------------------------------------------------------------------------

    def _decide(self, request: PolicyRequest | SocketmapRequest) -> Decision:
        if isinstance(request, PolicyRequest):
            return self._responder.policy(request)
        return self._responder.socketmap(request)

    def _reply(
        self,
        service: Service,
        request: PolicyRequest | SocketmapRequest,
        decision: Decision,
        started: float,
    ) -> bytes:
        self.metrics.observe(
            service=service.value, outcome=decision.outcome, seconds=time.perf_counter() - started
        )
        if isinstance(request, PolicyRequest):
            _log_decision(service, decision, queue_id=request.queue_id)
            return format_response(decision.reply)
        _log_decision(service, decision, queue_id="")
        return format_socketmap_reply(decision.reply)

    def _answer(self, service: Service, request: PolicyRequest | SocketmapRequest) -> bytes:
        started = time.perf_counter()
        return self._reply(service, request, self._decide(request), started)

    async def _answer_in_thread(
        self, service: Service, request: PolicyRequest | SocketmapRequest
    ) -> bytes:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        decision = await loop.run_in_executor(None, self._decide, request)
        return self._reply(service, request, decision, started)


Request = PolicyRequest | SocketmapRequest


class _Connection(asyncio.Protocol):
    """One client connection: requests in, replies out in the same order, until the peer
    closes, the server stops, or the peer breaks the protocol (logged, then closed)."""

    def __init__(self, server: PolicyServer, service: Service) -> None:
        self._server = server
        self._service = service
        self._framer: PolicyRequestParser | _SocketmapFramer = (
            PolicyRequestParser() if service is Service.POLICY else _SocketmapFramer()
        )
        self._transport: asyncio.Transport | None = None
        self._peer = "unix"
        self._gauge = server.metrics.connections.labels(service=service.value)
        # Only with lookup_in_thread: requests waiting for the worker task, which runs one
        # lookup at a time in the executor while reading from the peer is paused.
        self._pending: deque[Request] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._eof = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A read/write transport (uvloop's is not an asyncio.Transport subclass).
        self._transport = cast(asyncio.Transport, transport)
        self._peer = _peer_name(transport)
        self._server._connections.add(self)
        self._gauge.inc()
        if self._server.stopping:
            self.close()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            requests = self._framer.feed(data)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        if not requests:
            return
        if self._server._lookup_in_thread:
            self._pending.extend(requests)
            self._start_worker()
            return
        answer = self._server._answer
        try:
            if len(requests) == 1:
                reply = answer(self._service, requests[0])
            else:
                reply = b"".join([answer(self._service, request) for request in requests])
        except Exception as exc:
            self._failed(exc)
            return
        assert self._transport is not None
        self._transport.write(reply)
        if self._server.stopping:
            self.close()

    def eof_received(self) -> bool:
        self._eof = True
        try:
            self._framer.finish()  # raises if the peer hung up in the middle of a request
        except ProtocolError as exc:
            self._protocol_error(exc)
            return False
        # Keep the half-open connection while a worker still has answers to write.
        return self._worker is not None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if exc is not None:
            log.info(
                "%s connection from %s lost: %s",
                self._service.value,
                self._peer,
                type(exc).__name__,
            )
        self._server._connections.discard(self)
        self._gauge.dec()
        if self._worker is not None:
            self._worker.cancel()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        # A peer that does not read its replies gets no more of them computed.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and self._worker is None and not self._closing:
            self._transport.resume_reading()

    # -- for the server ------------------------------------------------------------------------

    def close_when_idle(self) -> None:
        """At stop: close now if nothing is being answered, else once the answers are out."""
        if self._worker is None:
            self.close()

    def close(self) -> None:
        """Close after the replies already written have been sent."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self._closing = True
        if self._worker is not None:
            self._worker.cancel()
        if self._transport is not None:
            self._transport.abort()

    # -- the rest ------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        if self._worker is None:
            assert self._transport is not None
            self._transport.pause_reading()
            self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        assert self._transport is not None
        try:
            while self._pending and not self._closing:
                request = self._pending.popleft()
                reply = await self._server._answer_in_thread(self._service, request)
                self._transport.write(reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(exc)
            return
        finally:
            self._worker = None
        if self._server.stopping or self._eof:
            self.close()
        elif not self._closing:
            self._transport.resume_reading()

    def _protocol_error(self, exc: ProtocolError) -> None:
        self._server.metrics.protocol_errors.labels(service=self._service.value).inc()
        log.warning("%s connection from %s closed: %s", self._service.value, self._peer, exc)
        self.close()

    def _failed(self, exc: Exception) -> None:
        # A bug, not the peer's fault. The exception's message may quote an address, so the
        # log gets its type and where it was raised, not its text.
        log.error(
            "%s connection from %s failed: %s\n%s",
            self._service.value,
            self._peer,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
        )
        self.close()


_LOGGED_AT_INFO = frozenset({Outcome.SUPPRESSED, Outcome.UNAVAILABLE})


def _log_decision(service: Service, decision: Decision, *, queue_id: str) -> None:
    # Queue id, recipient domain, outcome, reason class, list: never the local part.
    if decision.outcome is Outcome.REFUSED:
        log.warning("%s request for a map this server does not serve", service.value)
        return
    # Refusals and deferrals at INFO; the allowed (nearly every recipient sent) and skipped at
    # DEBUG: a line per recipient would cost more than the decision itself, and the metrics
    # count them.
    level = logging.INFO if decision.outcome in _LOGGED_AT_INFO else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    # A socketmap key is whatever address Postfix routes (recipients, and senders too for
    # transport_maps), so its domain is not labelled as the recipient's.
    domain_field = "rcpt_domain" if service is Service.POLICY else "key_domain"
    log.log(
        level,
        "%s decision queue_id=%s %s=%s decision=%s reason=%s scope=%s",
        service.value,
        queue_id if _QUEUE_ID.fullmatch(queue_id) else "-",
        domain_field,
        decision.domain or "-",
        decision.outcome.value,
        decision.reason or "-",
        decision.scope or "-",
    )


def _peer_name(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "unix"


def _show(where: tuple[str, int] | None) -> str:
    return f"{where[0]}:{where[1]}" if where else "-"


async def serve_policy(
    lookup: SuppressionLookup,
    *,
    listen: str | None = DEFAULT_LISTEN,
    unix: str | None = None,
    socketmap_listen: str | None = None,
    socketmap_unix: str | None = None,
    metrics: str | None = None,
    scope_rules: Sequence[ScopeRule] = (),
    unavailable_action: str = DEFAULT_UNAVAILABLE_ACTION,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    lookup_in_thread: bool = False,
    ready: Callable[[PolicyServer], object] | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when ``handle_signals``), then stop
    gracefully. ``ready`` is called once every listener is bound, with the running server.
    """
    server = PolicyServer(
        lookup,
        listen=listen,
        unix=unix,
        socketmap_listen=socketmap_listen,
        socketmap_unix=socketmap_unix,
        metrics=metrics,
        scope_rules=scope_rules,
        unavailable_action=unavailable_action,
        shutdown_timeout=shutdown_timeout,
        lookup_in_thread=lookup_in_thread,
    )
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        try:
            if ready is not None:
                ready(server)
            await stop.wait()
        finally:
            await server.stop()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
