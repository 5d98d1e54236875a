"""Policy service decisions per second and p99 latency, 20 persistent connections, vs the same
server with a trivial always-DUNNO lookup, interleaved in the same run.

    python bench/policy_decisions.py [--entries 100000] [--seconds 5] [--rounds 3]

Each server is a process of its own: `mailvault policy-server` on a SQLite store holding
``--entries`` suppressions, and the baseline (the same daemon code, `serve_policy` with a lookup
that always answers "not suppressed"); both log every decision at INFO to a file, as deployed.
Both run on uvloop when it is installed, as policy-server does. The load generator is one
asyncio process (uvloop too when installed): 20 connections, each sending a Postfix 3.7 RCPT
request (29 attributes) and waiting for its reply before the next, as Postfix's smtpd does
(no pipelining). 10 % of the recipients are suppressed; every reply is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from common import PASSPHRASE, REPO, addresses, fill_suppressions, report, throwaway_store

from vault.cli.policy import event_loop_factory
from vault.store import Vault
from vault.suppressions.snapshot import SuppressionSnapshot

SUPPRESSED_SHARE = 10  # one recipient in ten

BASELINE_SERVER = textwrap.dedent(
    """
    import asyncio, logging, sys
    from vault.policy import NOT_SUPPRESSED, serve_policy

    class AlwaysDunno:
        def lookup(self, canonical_address, *, scope):
            return NOT_SUPPRESSED

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from vault.cli.policy import event_loop_factory  # the same loop as policy-server
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve_policy(AlwaysDunno(), listen=sys.argv[1],
                                socketmap_listen=sys.argv[2] if len(sys.argv) > 2 else None,
                                ready=lambda server: logging.info("policy server ready")))
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the store ---------------------------------------------------------------------------------


def fill_store(store: Vault, suppressed: Sequence[str]) -> None:
    # An hour ago: the steady state, where the last minute holds few of the entries.
    fill_suppressions(store, suppressed, created=datetime.now(UTC) - timedelta(hours=1))


def store_env(store: Vault) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    env.update(
        MAILVAULT_DATABASE_URL=store.settings.database_url,
        MAILVAULT_KEYS_DIR=str(store.settings.keys_dir),
        MAILVAULT_KEK_PASSPHRASE=PASSPHRASE,
        PYTHONPATH=str(REPO),
    )
    return env


# -- the servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    policy_port: int
    socketmap_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


@contextmanager
def running_server(
    kind: str, env: dict[str, str], log_dir: Path, *, sockets: Path | None = None
) -> Iterator[Server]:
    """``kind`` is "mailvault" (the real command) or "baseline" (always DUNNO). With
    ``sockets``, mailvault also listens on ``policy.sock`` and ``socketmap.sock`` there."""
    policy_port, socketmap_port = free_port(), free_port()
    log_path = log_dir / f"{kind}-{policy_port}.log"
    if kind == "mailvault":
        argv = [
            sys.executable,
            "-m",
            "vault",
            "policy-server",
            "--listen",
            f"127.0.0.1:{policy_port}",
            "--socketmap-listen",
            f"127.0.0.1:{socketmap_port}",
        ]
        if sockets is not None:
            argv += [
                "--unix",
                str(sockets / "policy.sock"),
                "--socketmap-unix",
                str(sockets / "socketmap.sock"),
            ]
    else:
        argv = [
            sys.executable,
            "-c",
            BASELINE_SERVER,
            f"127.0.0.1:{policy_port}",
            f"127.0.0.1:{socketmap_port}",
        ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    server = Server(kind, policy_port, socketmap_port, process, log_path)
    try:
        deadline = time.monotonic() + 300
        while b"policy server ready" not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the load ----------------------------------------------------------------------------------

ATTRIBUTES = (
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
    "client_address=127.0.0.1\nclient_name=localhost\nclient_port={port}\n"
    "reverse_client_name=localhost\nserver_address=127.0.0.1\nserver_port=10587\n"
    "helo_name=pipeline.example\nsender=news@sender.example\nrecipient={recipient}\n"
    "recipient_count=0\nqueue_id=\ninstance=2c4d.6b043a33.a7ead.0\nsize=0\netrn_domain=\n"
    "stress=\nsasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\n"
    "ccert_fingerprint=\nccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n"
    "encryption_keysize=0\npolicy_context=\n\n"
)


def policy_requests(suppressed: Sequence[str], others: Sequence[str]) -> list[tuple[bytes, bool]]:
    """(request bytes, suppressed?) with one suppressed recipient in SUPPRESSED_SHARE."""
    requests = []
    for i, recipient in enumerate(others):
        if i % (SUPPRESSED_SHARE - 1) == 0 and i // (SUPPRESSED_SHARE - 1) < len(suppressed):
            hit = suppressed[i // (SUPPRESSED_SHARE - 1)]
            requests.append((ATTRIBUTES.format(port=40000 + i % 20000, recipient=hit), True))
        requests.append((ATTRIBUTES.format(port=40000 + i % 20000, recipient=recipient), False))
    return [(text.encode(), hit) for text, hit in requests]


class _LockstepClient(asyncio.Protocol):
    """One Postfix-like connection: a request, wait for the whole reply, the next request."""

    def __init__(
        self,
        requests: list[tuple[bytes, bool]],
        offset: int,
        stop_at: float,
        latencies: list[float],
        done: asyncio.Future[tuple[int, int]],
        exact: bool,
    ) -> None:
        self._exact = exact  # mailvault: check each decision; baseline: always DUNNO
        self._requests = requests
        self._index = offset
        self._stop_at = stop_at
        self._latencies = latencies
        self._done = done
        self._buffer = b""
        self._sent_at = 0.0
        self._expect_reject = False
        self._wrong = 0
        self._answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._send()

    def _send(self) -> None:
        request, self._expect_reject = self._requests[self._index % len(self._requests)]
        self._index += 1
        self._sent_at = time.perf_counter()
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._buffer.endswith(b"\n\n"):
            return
        now = time.perf_counter()
        self._latencies.append(now - self._sent_at)
        self._answered += 1
        if self._exact:
            self._wrong += self._buffer.startswith(b"action=550 5.7.1 ") != self._expect_reject
        else:
            self._wrong += self._buffer != b"action=DUNNO\n\n"
        self._buffer = b""
        if now < self._stop_at:
            self._send()
        else:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result((self._answered, self._wrong))


@dataclass
class LoadResult:
    decisions: int
    seconds: float
    wrong: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds


async def _load(
    port: int, requests: list[tuple[bytes, bool]], seconds: float, connections: int, exact: bool
) -> LoadResult:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    futures = []
    for n in range(connections):
        done: asyncio.Future[tuple[int, int]] = loop.create_future()
        offset = n * (len(requests) // connections)

        def factory(
            offset: int = offset, done: asyncio.Future[tuple[int, int]] = done
        ) -> _LockstepClient:
            return _LockstepClient(requests, offset, stop_at, latencies, done, exact)

        await loop.create_connection(factory, "127.0.0.1", port)
        futures.append(done)
    results = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        decisions=sum(answered for answered, _ in results),
        seconds=elapsed,
        wrong=sum(wrong for _, wrong in results),
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
    )


def run_load(
    port: int,
    requests: list[tuple[bytes, bool]],
    *,
    seconds: float,
    connections: int,
    exact: bool,
) -> LoadResult:
    # uvloop when installed, so that the generator leaves more of the 2 cores to the server.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_load(port, requests, 0.5, connections, exact))  # warm-up
        return runner.run(_load(port, requests, seconds, connections, exact))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()

    suppressed = addresses(args.entries, seed=1)
    others = addresses(50_000, seed=2)
    requests = policy_requests(suppressed, others)
    results: dict[str, list[LoadResult]] = {"baseline": [], "mailvault": []}
    rss: list[float] = []
    with throwaway_store() as store, tempfile.TemporaryDirectory() as logs:
        fill_store(store, suppressed)
        env = store_env(store)
        for _ in range(args.rounds):
            for kind in ("baseline", "mailvault"):
                with running_server(kind, env, Path(logs)) as server:
                    result = run_load(
                        server.policy_port,
                        requests,
                        seconds=args.seconds,
                        connections=args.connections,
                        exact=kind == "mailvault",
                    )
                    if kind == "mailvault":
                        rss.append(server.rss_mb())
                assert result.wrong == 0, f"{kind}: {result.wrong} wrong answers"
                results[kind].append(result)

    def median(kind: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[kind])

    base_rate, mv_rate = median("baseline", "rate"), median("mailvault", "rate")
    ten_million = SuppressionSnapshot(capacity=10_000_000).memory_bytes
    report(
        f"policy decisions, {args.connections} persistent lockstep connections, "
        f"{args.entries:,} suppressions, median of {args.rounds} interleaved rounds "
        f"of {args.seconds:g} s",
        [
            (
                "baseline (always DUNNO)",
                f"{base_rate:,.0f} decisions/s, p50 {median('baseline', 'p50_ms'):.2f} ms, "
                f"p99 {median('baseline', 'p99_ms'):.2f} ms",
            ),
            (
                "mailvault policy-server",
                f"{mv_rate:,.0f} decisions/s, p50 {median('mailvault', 'p50_ms'):.2f} ms, "
                f"p99 {median('mailvault', 'p99_ms'):.2f} ms (target >= 10,000/s)",
            ),
            ("ratio mailvault / baseline", f"{mv_rate / base_rate:.2f}x"),
            ("every round (decisions/s)", _rounds(results)),
            ("server RSS with the list loaded", f"{max(rss):.0f} MB"),
            ("table for 10,000,000 entries", f"{ten_million / 1e6:.0f} MB"),
        ],
    )


def _rounds(results: dict[str, list[LoadResult]]) -> str:
    pairs = zip(results["baseline"], results["mailvault"], strict=True)
    return ", ".join(f"{b.rate:,.0f}/{m.rate:,.0f}" for b, m in pairs)


if __name__ == "__main__":
    main()
