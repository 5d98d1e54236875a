"""SPEC §2.1 for the policy service: a canary address pushed through every path of the daemon
(suppressed, not suppressed, store down, store crashing, malformed input, metrics) is never
found in what it logs or exposes. The SIGTERM test in test_daemon.py checks a real process's
stderr the same way, and the e2e test does with a real Postfix."""

from __future__ import annotations

import asyncio
import io
import logging
import urllib.request
from pathlib import Path

import pytest

from vault.policy.daemon import PolicyServer
from vault.policy.lookup import LookupResult
from vault.policy.netstring import encode
from vault.policy.scope import ScopeRule

from .doubles import MemoryLookup
from .test_daemon import ask_policy, ask_socketmap, rcpt_request

CANARY = "canary-zq7x"
ADDRESS = f"{CANARY}@example.org"


class CrashingLookup(MemoryLookup):
    """A store with a bug whose exception message quotes the address."""

    crash = False

    def lookup(self, canonical_address: str, *, scope: str | None) -> LookupResult:
        if self.crash:
            raise RuntimeError(f"no row for {canonical_address}")
        return super().lookup(canonical_address, scope=scope)


def test_canary_never_reaches_logs_or_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Also a handler as a deployment would have: formatted lines to a stream.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("vault").addHandler(handler)
    lookup = CrashingLookup()

    async def scenario() -> str:
        server = PolicyServer(
            lookup,
            listen="127.0.0.1:0",
            socketmap_unix=str(tmp_path / "sm.sock"),
            metrics="127.0.0.1:0",
            scope_rules=[ScopeRule.parse(f"sender:{CANARY}@sender.example=newsletter")],
        )
        await server.start()
        assert server.bound.policy is not None
        assert server.bound.metrics is not None
        policy = await asyncio.open_connection(*server.bound.policy)
        socketmap = await asyncio.open_unix_connection(str(tmp_path / "sm.sock"))

        # Not suppressed, then suppressed (globally, then for a list picked by the sender).
        assert await ask_policy(policy, ADDRESS) == "DUNNO"
        assert await ask_socketmap(socketmap, "transport", ADDRESS) == "NOTFOUND "
        lookup.suppress(ADDRESS, "complaint")
        assert (await ask_policy(policy, ADDRESS)).startswith("550 5.7.1")
        assert (await ask_socketmap(socketmap, "suppressed", ADDRESS)).startswith("OK 550")
        assert (await ask_policy(policy, ADDRESS, sender=f"{CANARY}@sender.example")).startswith(
            "550"
        )
        # Other protocol states, store down, store crashing.
        assert await ask_policy(policy, ADDRESS, protocol_state="DATA") == "DUNNO"
        lookup.unavailable = True
        assert (await ask_policy(policy, ADDRESS)).startswith("DEFER_IF_PERMIT")
        lookup.unavailable = False
        lookup.crash = True
        assert (await ask_policy(policy, ADDRESS)).startswith("DEFER_IF_PERMIT")
        assert (await ask_socketmap(socketmap, "suppressed", ADDRESS)).startswith("TEMP")
        # An unknown map and malformed input carrying the canary.
        assert (await ask_socketmap(socketmap, "aliases", ADDRESS)).startswith("PERM")
        for bad in (
            rcpt_request(ADDRESS).replace(b"\n\n", b"\nno-equals " + ADDRESS.encode() + b"\n\n"),
            b"recipient=" + ADDRESS.encode() + b"\xff\n\n",
            b"recipient=" + ADDRESS.encode() * 200 + b"\n\n",
        ):
            reader, writer = await asyncio.open_connection(*server.bound.policy)
            writer.write(bad)
            assert await reader.read() == b""
            writer.close()
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "sm.sock"))
        writer.write(encode(ADDRESS.encode()))  # no map name
        assert await reader.read() == b""
        writer.close()

        port = server.bound.metrics[1]
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
        )
        for _, w in (policy, socketmap):
            w.close()
        await server.stop()
        return bytes(metrics).decode()

    try:
        metrics = asyncio.run(scenario())
    finally:
        logging.getLogger("vault").removeHandler(handler)

    logged = caplog.text + stream.getvalue()
    assert "decision=suppressed reason=complaint" in logged  # the paths were logged ...
    assert "RuntimeError" in logged
    assert "closed:" in logged
    assert CANARY not in logged  # ... and never with the address
    assert all(CANARY not in str(record.args) for record in caplog.records)
    assert "mailvault_policy_decisions_total" in metrics
    assert CANARY not in metrics
