"""The daemon over real sockets (TCP and Unix): persistent connections, malformed input,
graceful and hard stop, metrics, and SIGTERM in a real process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from vault.errors import ConfigError
from vault.policy.daemon import PolicyServer, parse_host_port, serve_policy
from vault.policy.netstring import NetstringDecoder, encode

from .doubles import MemoryLookup

REPO = Path(__file__).resolve().parents[2]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def run(coro: Awaitable[None]) -> None:
    async def main() -> None:
        await asyncio.wait_for(coro, timeout=30)

    asyncio.run(main())


def rcpt_request(recipient: str, **extra: str) -> bytes:
    attributes = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "sender": "news@sender.example",
        "recipient": recipient,
        "queue_id": "",
    } | extra
    return b"".join(f"{k}={v}\n".encode() for k, v in attributes.items()) + b"\n"


async def read_action(reader: asyncio.StreamReader) -> str:
    response = await reader.readuntil(b"\n\n")
    assert response.startswith(b"action=")
    return response[len(b"action=") : -2].decode()


async def ask_policy(streams: Streams, recipient: str, **extra: str) -> str:
    reader, writer = streams
    writer.write(rcpt_request(recipient, **extra))
    await writer.drain()
    return await read_action(reader)


async def ask_socketmap(streams: Streams, name: str, key: str) -> str:
    reader, writer = streams
    writer.write(encode(f"{name} {key}".encode()))
    await writer.drain()
    decoder = NetstringDecoder(max_length=1000)
    while True:
        replies = decoder.feed(await reader.read(1000))
        if replies:
            return replies[0].decode()


@pytest.fixture
def lookup() -> MemoryLookup:
    store = MemoryLookup()
    store.suppress("gone@example.org", "unsubscribe")
    return store


@asynccontextmanager
async def running(lookup: MemoryLookup, **options: Any) -> AsyncIterator[PolicyServer]:
    server = PolicyServer(lookup, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def connect(server: PolicyServer, kind: str) -> Streams:
    bound = server.bound
    if kind == "tcp":
        assert bound.policy is not None
        return await asyncio.open_connection(*bound.policy)
    if kind == "unix":
        assert bound.policy_unix is not None
        return await asyncio.open_unix_connection(bound.policy_unix)
    if kind == "socketmap-tcp":
        assert bound.socketmap is not None
        return await asyncio.open_connection(*bound.socketmap)
    assert bound.socketmap_unix is not None
    return await asyncio.open_unix_connection(bound.socketmap_unix)


async def close(streams: Streams) -> None:
    streams[1].close()
    await streams[1].wait_closed()


def all_listeners(tmp_path: Path) -> dict[str, str]:
    return {
        "listen": "127.0.0.1:0",
        "unix": str(tmp_path / "policy.sock"),
        "socketmap_listen": "127.0.0.1:0",
        "socketmap_unix": str(tmp_path / "socketmap.sock"),
    }


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_many_requests_on_one_policy_connection(
    lookup: MemoryLookup, tmp_path: Path, kind: str
) -> None:
    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)) as server:
            streams = await connect(server, kind)
            for i in range(100):
                recipient = "gone@example.org" if i % 2 else f"user{i}@example.org"
                expected = "550 5.7.1 Recipient suppressed (unsubscribe)" if i % 2 else "DUNNO"
                assert await ask_policy(streams, recipient) == expected
            # Pipelined: many requests in one write, answered in order.
            reader, writer = streams
            writer.write(b"".join(rcpt_request(f"p{i}@example.org") for i in range(50)))
            writer.write(rcpt_request("GONE@Example.ORG"))
            await writer.drain()
            actions = [await read_action(reader) for _ in range(51)]
            assert actions == ["DUNNO"] * 50 + ["550 5.7.1 Recipient suppressed (unsubscribe)"]
            await close(streams)
        assert lookup.calls == 151

    run(scenario())


@pytest.mark.parametrize("kind", ["socketmap-tcp", "socketmap-unix"])
def test_many_requests_on_one_socketmap_connection(
    lookup: MemoryLookup, tmp_path: Path, kind: str
) -> None:
    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)) as server:
            streams = await connect(server, kind)
            for _ in range(20):
                assert await ask_socketmap(streams, "suppressed", "gone@example.org") == (
                    "OK 550 5.7.1 Recipient suppressed (unsubscribe)"
                )
                assert await ask_socketmap(streams, "transport", "gone@example.org") == (
                    "OK error:5.7.1 Recipient suppressed (unsubscribe)"
                )
                assert await ask_socketmap(streams, "transport", "ok@example.org") == "NOTFOUND "
                assert await ask_socketmap(streams, "transport", "example.org") == "NOTFOUND "
            assert await ask_socketmap(streams, "aliases", "x@example.org") == (
                "PERM unknown map name"
            )
            await close(streams)

    run(scenario())


def test_store_unavailable_defers_on_both_protocols(lookup: MemoryLookup, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)) as server:
            policy = await connect(server, "tcp")
            socketmap = await connect(server, "socketmap-tcp")
            lookup.unavailable = True
            assert await ask_policy(policy, "ok@example.org") == (
                "DEFER_IF_PERMIT Suppression list unavailable"
            )
            assert await ask_socketmap(socketmap, "transport", "ok@example.org") == (
                "TEMP Suppression list unavailable"
            )
            lookup.unavailable = False
            assert await ask_policy(policy, "ok@example.org") == "DUNNO"
            await close(policy)
            await close(socketmap)

    run(scenario())


MALFORMED_POLICY = {
    "long line": b"recipient=" + b"x" * 5000,
    "invalid utf-8": b"recipient=\xff@example.org\n\n",
    "too many attributes": b"".join(b"a%d=1\n" % i for i in range(101)),
    "no equals": b"garbage\n\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_POLICY))
def test_malformed_policy_input_closes_only_that_connection(
    lookup: MemoryLookup, tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vault.policy")

    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)) as server:
            good = await connect(server, "tcp")
            assert await ask_policy(good, "ok@example.org") == "DUNNO"
            bad_reader, bad_writer = await connect(server, "tcp")
            bad_writer.write(MALFORMED_POLICY[case])
            await bad_writer.drain()
            assert await bad_reader.read() == b""  # closed by the server, no reply
            await close((bad_reader, bad_writer))
            # The connection opened before still works, and so does a new one.
            assert await ask_policy(good, "gone@example.org") == (
                "550 5.7.1 Recipient suppressed (unsubscribe)"
            )
            fresh = await connect(server, "unix")
            assert await ask_policy(fresh, "ok@example.org") == "DUNNO"
            await close(good)
            await close(fresh)
            errors = server.metrics.protocol_errors.labels(service="policy")._value.get()
            assert errors == 1

    run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("policy connection from 127.0.0.1:")
    assert "closed:" in warnings[0]


@pytest.mark.parametrize(
    "data",
    [b"99999:", b"3:abc;", b"x:", b"7:nospace,", b"4:a \xff\xfe,"],
)
def test_malformed_socketmap_input_closes_only_that_connection(
    lookup: MemoryLookup, tmp_path: Path, data: bytes
) -> None:
    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)) as server:
            good = await connect(server, "socketmap-tcp")
            bad_reader, bad_writer = await connect(server, "socketmap-unix")
            bad_writer.write(data)
            await bad_writer.drain()
            assert await bad_reader.read() == b""
            await close((bad_reader, bad_writer))
            assert await ask_socketmap(good, "suppressed", "ok@example.org") == "NOTFOUND "
            await close(good)

    run(scenario())


def test_peer_hanging_up_inside_a_request_is_logged(
    lookup: MemoryLookup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vault.policy")

    async def scenario() -> None:
        async with running(lookup, listen="127.0.0.1:0") as server:
            reader, writer = await connect(server, "tcp")
            writer.write(b"protocol_state=RCPT\nrecipient=half@example.org\n")
            await writer.drain()
            writer.write_eof()
            assert await reader.read() == b""
            await close((reader, writer))

    run(scenario())
    assert "stream ended inside a request" in caplog.text
    assert "half@" not in caplog.text


def gated(lookup: MemoryLookup) -> tuple[threading.Event, threading.Event]:
    entered, release = threading.Event(), threading.Event()
    lookup.gate = (entered, release)
    return entered, release


def test_graceful_stop_answers_in_flight_requests_then_closes(
    lookup: MemoryLookup, tmp_path: Path
) -> None:
    async def scenario() -> None:
        server = PolicyServer(
            lookup, listen="127.0.0.1:0", unix=str(tmp_path / "p.sock"), lookup_in_thread=True
        )
        await server.start()
        assert server.bound.policy is not None
        idle = await connect(server, "unix")
        busy_reader, busy_writer = await connect(server, "tcp")
        entered, release = gated(lookup)
        busy_writer.write(rcpt_request("gone@example.org"))
        await busy_writer.drain()
        assert await asyncio.to_thread(entered.wait, 5)

        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.1)
        # Not accepting any more, the idle connection is closed, the busy one waits.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*server.bound.policy)
        assert not (tmp_path / "p.sock").exists()
        assert await idle[0].read() == b""
        assert not stopping.done()

        release.set()
        assert await read_action(busy_reader) == "550 5.7.1 Recipient suppressed (unsubscribe)"
        assert await busy_reader.read() == b""
        await stopping
        await close(idle)
        await close((busy_reader, busy_writer))

    run(scenario())


def test_hard_stop_after_the_timeout(
    lookup: MemoryLookup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vault.policy")

    async def scenario() -> None:
        server = PolicyServer(
            lookup, listen="127.0.0.1:0", lookup_in_thread=True, shutdown_timeout=0.2
        )
        await server.start()
        reader, writer = await connect(server, "tcp")
        entered, release = gated(lookup)
        writer.write(rcpt_request("stuck@example.org"))
        await writer.drain()
        assert await asyncio.to_thread(entered.wait, 5)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 2
        assert await reader.read() == b""  # closed without an answer
        release.set()
        await close((reader, writer))

    run(scenario())
    assert "closing them hard" in caplog.text


def test_stop_is_idempotent_and_start_happens_once(lookup: MemoryLookup) -> None:
    async def scenario() -> None:
        server = PolicyServer(lookup, listen="127.0.0.1:0")
        await server.stop()  # never started: nothing to do
        await server.start()
        with pytest.raises(RuntimeError, match="starts once"):
            await server.start()
        await asyncio.gather(server.stop(), server.stop())
        await server.stop()

    run(scenario())


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def test_metrics_endpoint_exposes_decisions_latency_and_errors(
    lookup: MemoryLookup, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(lookup, metrics="127.0.0.1:0", **all_listeners(tmp_path)) as server:
            assert server.bound.metrics is not None
            policy = await connect(server, "tcp")
            await ask_policy(policy, "gone@example.org")
            await ask_policy(policy, "ok@example.org")
            await ask_policy(policy, "ok@example.org", protocol_state="DATA")
            socketmap = await connect(server, "socketmap-tcp")
            await ask_socketmap(socketmap, "transport", "gone@example.org")
            lookup.unavailable = True
            await ask_policy(policy, "ok@example.org")
            text = await asyncio.to_thread(scrape, server.bound.metrics[1])
            await close(policy)
            await close(socketmap)

        expected = [
            'mailvault_policy_decisions_total{outcome="suppressed",service="policy"} 1.0',
            'mailvault_policy_decisions_total{outcome="allowed",service="policy"} 1.0',
            'mailvault_policy_decisions_total{outcome="skipped",service="policy"} 1.0',
            'mailvault_policy_decisions_total{outcome="unavailable",service="policy"} 1.0',
            'mailvault_policy_decisions_total{outcome="suppressed",service="socketmap"} 1.0',
            'mailvault_policy_decisions_total{outcome="refused",service="socketmap"} 0.0',
            'mailvault_policy_decision_seconds_count{service="policy"} 4.0',
            'mailvault_policy_protocol_errors_total{service="policy"} 0.0',
            'mailvault_policy_connections{service="socketmap"} 1.0',
        ]
        for line in expected:
            assert line in text.splitlines()
        assert "gone" not in text

    run(scenario())


def test_serve_policy_runs_until_the_stop_event(lookup: MemoryLookup) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        started: list[PolicyServer] = []
        serving = asyncio.create_task(
            serve_policy(
                lookup,
                listen="127.0.0.1:0",
                stop=stop,
                handle_signals=False,
                ready=started.append,
            )
        )
        while not started:
            await asyncio.sleep(0.01)
        streams = await connect(started[0], "tcp")
        assert await ask_policy(streams, "gone@example.org") == (
            "550 5.7.1 Recipient suppressed (unsubscribe)"
        )
        stop.set()
        await serving
        assert await streams[0].read() == b""
        await close(streams)

    run(scenario())


def test_unix_sockets_are_group_writable_only_and_removed_at_stop(
    lookup: MemoryLookup, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(lookup, **all_listeners(tmp_path)):
            for name in ("policy.sock", "socketmap.sock"):
                mode = (tmp_path / name).stat().st_mode
                assert stat.S_ISSOCK(mode)
                assert stat.S_IMODE(mode) == 0o660
        assert not (tmp_path / "policy.sock").exists()
        assert not (tmp_path / "socketmap.sock").exists()

    run(scenario())


def test_configuration_errors_are_refused_clearly(lookup: MemoryLookup) -> None:
    with pytest.raises(ConfigError, match="at least one listener"):
        PolicyServer(lookup)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        PolicyServer(lookup, listen="localhost")
    with pytest.raises(ConfigError, match="HOST:PORT"):
        PolicyServer(lookup, listen="127.0.0.1:99999")
    with pytest.raises(ConfigError, match="never let mail through"):
        PolicyServer(lookup, listen="127.0.0.1:0", unavailable_action="DUNNO")
    assert parse_host_port("[::1]:10040") == ("::1", 10040)


def test_a_busy_port_is_a_config_error_and_nothing_stays_bound(lookup: MemoryLookup) -> None:
    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = PolicyServer(
                lookup, listen="127.0.0.1:0", socketmap_listen=f"127.0.0.1:{port}"
            )
            with pytest.raises(
                ConfigError, match=f"cannot listen for socketmap on 127.0.0.1:{port}"
            ):
                await server.start()

    run(scenario())


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys, time
    from vault.policy import LookupResult, NOT_SUPPRESSED, serve_policy

    class SlowLookup:
        def lookup(self, canonical_address, *, scope):
            time.sleep(0.5)  # the request is in flight when SIGTERM arrives
            if canonical_address.startswith("canary-zq7x"):
                return LookupResult(suppressed=True, reason="complaint")
            return NOT_SUPPRESSED

    def ready(server):
        print(server.bound.policy[1], flush=True)

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    asyncio.run(serve_policy(SlowLookup(), listen="127.0.0.1:0", lookup_in_thread=True,
                             metrics="127.0.0.1:0", ready=ready))
    """
)


def test_sigterm_stops_a_real_process_gracefully_and_its_log_names_no_address() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(rcpt_request("canary-zq7x@example.org", queue_id="4BC2D20C6F7"))
            time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            response = b""
            while not response.endswith(b"\n\n"):
                chunk = client.recv(1000)
                assert chunk, "closed before the in-flight request was answered"
                response += chunk
            assert response == b"action=550 5.7.1 Recipient suppressed (complaint)\n\n"
            assert client.recv(1000) == b""
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "policy server stopped" in stderr
    assert (
        "policy decision queue_id=4BC2D20C6F7 rcpt_domain=example.org decision=suppressed "
        "reason=complaint scope=-" in stderr
    )
    assert "canary-zq7x" not in stderr


def test_serve_policy_signal_handlers_are_removed_afterwards(lookup: MemoryLookup) -> None:
    before = signal.getsignal(signal.SIGTERM)

    async def scenario() -> None:
        stop = asyncio.Event()
        stop.set()
        await serve_policy(lookup, listen="127.0.0.1:0", stop=stop)

    run(scenario())
    assert signal.getsignal(signal.SIGTERM) == before
