"""End to end with the real store and a real Postfix: `mailvault policy-server` runs as a
process of its own against a SQLite or PostgreSQL store, a private Postfix asks it about every
recipient, and `mailvault suppress` (another process) changes the store while mail flows.

For each backend: suppressed and non-suppressed recipients in one message and in separate
messages, on the policy listener and the socketmap one; a suppression added through the CLI
refuses the next message within 2 s; the database going away defers mail (4xx), never delivers
it, and the service answers again by itself once the database is back. The service's log never
holds the canary's local part.
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from vault.addresses import parse_address
from vault.clock import SystemClock
from vault.config import Settings
from vault.store import Vault
from vault.suppressions.models import SuppressionReason

from ..canary import CANARY, CANARY_LOCAL, assert_absent
from ..conftest import REPO
from .postfix_harness import PostfixInstance, Sink, free_port, need_postfix, running_postfix
from .tcp_proxy import TcpProxy
from .test_postfix_e2e import SENDER, message, never_delivered, refused_all, send

pytestmark = pytest.mark.slow

# The service is run with a short staleness bound so that the outage shows within seconds.
MAX_STALENESS = 2.0


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"policy": free_port(), "socketmap": free_port()}


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postfix(ports: dict[str, int], sink: Sink) -> Iterator[PostfixInstance]:
    need_postfix()  # skips on a dev box without Postfix; fails in CI
    # One Postfix for the module; each test starts its own policy service on these ports.
    with running_postfix(
        policy_port=ports["policy"], socketmap_port=ports["socketmap"], sink_port=sink.port
    ) as instance:
        yield instance


class PolicyServerProcess:
    """`mailvault policy-server` as a child process, its stderr in a file."""

    def __init__(self, env: dict[str, str], ports: dict[str, int], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vault",
                "policy-server",
                "--listen",
                f"127.0.0.1:{ports['policy']}",
                "--socketmap-listen",
                f"127.0.0.1:{ports['socketmap']}",
                "--max-staleness",
                str(MAX_STALENESS),
                "--log-level",
                "debug",
            ],
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "policy server ready" in self.log():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the policy server did not start:\n{self.log()}")

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


def mailvault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault", *args],
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rcpt_code(port: int, address: str) -> tuple[int, bytes]:
    """RCPT TO only (then RSET): what Postfix says about a recipient, without sending mail."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail(SENDER)
        code, text = client.rcpt(address)
        client.rset()
        return code, text


def wait_for_code(port: int, address: str, codes: set[int], *, timeout: float) -> float:
    """Seconds until RCPT TO ``address`` is answered with one of ``codes``; fails on timeout."""
    started = time.monotonic()
    while True:
        code, text = rcpt_code(port, address)
        elapsed = time.monotonic() - started
        if code in codes:
            return elapsed
        assert elapsed < timeout, f"still {code} {text!r} after {elapsed:.1f}s"
        time.sleep(0.1)


@contextlib.contextmanager
def database_outage(database_url: str, proxy: TcpProxy | None) -> Iterator[None]:
    """The store's database goes away for the duration: the proxy to PostgreSQL is stopped,
    or the SQLite file is moved aside; afterwards it comes back."""
    if proxy is not None:
        proxy.stop()
        try:
            yield
        finally:
            proxy.start()
        return
    path = Path(make_url(database_url).database or "")
    aside = path.with_name(path.name + ".away")
    os.rename(path, aside)
    try:
        yield
    finally:
        os.rename(aside, path)


def test_store_backed_service_with_a_real_postfix(
    postfix: PostfixInstance,
    sink: Sink,
    ports: dict[str, int],
    settings: Settings,
    database_url: str,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    backend = make_url(database_url).get_backend_name()
    tag = backend[:2]  # each backend's run uses addresses of its own on the shared sink
    gone, ok = f"gone-{tag}@example.org", f"ok-{tag}@example.org"

    writer = Vault.open(settings, clock=SystemClock())
    try:
        writer.suppress([parse_address(gone)], reason=SuppressionReason.UNSUBSCRIBE, source="test")
    finally:
        writer.close()

    # The service reaches PostgreSQL through a proxy that the test can take away.
    proxy: TcpProxy | None = None
    server_env = dict(cli_env)
    if backend == "postgresql":
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.start()
        server_env["MAILVAULT_DATABASE_URL"] = url.set(port=proxy.port).render_as_string(
            hide_password=False
        )
    server = PolicyServerProcess(server_env, ports, tmp_path / "policy-server.log")
    try:
        server.wait_ready()

        # 1. One message, a suppressed and a non-suppressed recipient.
        refused = send(postfix.smtp_port, [gone, ok], "mixed")
        code, text = refused[gone]
        assert (code, text[:6]) == (550, b"5.7.1 ")
        assert b"Recipient suppressed (unsubscribe)" in text
        assert ok not in refused
        assert sink.wait_for_recipient(ok)

        # 2. Separate messages.
        assert refused_all(postfix.smtp_port, [gone])[gone][0] == 550
        assert send(postfix.smtp_port, [f"ok2-{tag}@example.org"], "separate") == {}
        assert sink.wait_for_recipient(f"ok2-{tag}@example.org")

        # 3. The socketmap path: check_recipient_access on the second listener.
        refused = send(postfix.socketmap_smtp_port, [gone, f"ok3-{tag}@example.org"], "sm")
        assert refused[gone][0] == 550
        assert refused[gone][1].startswith(b"5.7.1 ")
        assert b"Recipient suppressed (unsubscribe)" in refused[gone][1]
        assert sink.wait_for_recipient(f"ok3-{tag}@example.org")
        # ... and transport_maps, for mail injected with sendmail.
        postfix.sendmail(sender=SENDER, recipients=[gone], message=message("cli"))
        assert postfix.wait_for_log(rf"to=<{gone}>, relay=none, .*dsn=5\.7\.1, status=bounced"), (
            postfix.maillog()[-2000:]
        )

        # 4. Deliverable now; suppressed through the CLI (another process); refused within 2 s.
        canary = CANARY.replace("@", f"-{tag}@")
        assert send(postfix.smtp_port, [canary], "before") == {}
        assert sink.wait_for_recipient(canary)
        suppressed = mailvault(cli_env, "suppress", "--reason", "complaint", canary)
        assert suppressed.returncode == 0, suppressed.stderr
        took = wait_for_code(postfix.smtp_port, canary, {550}, timeout=2.0)
        refused = refused_all(postfix.smtp_port, [canary])
        assert b"Recipient suppressed (complaint)" in refused[canary][1]
        assert wait_for_code(postfix.socketmap_smtp_port, canary, {550}, timeout=2.0) < 2.0
        time.sleep(1)  # give a wrongly accepted message time to arrive
        deliveries = [m for m in sink.messages if canary.lower() in map(str.lower, m.rcpt_tos)]
        assert len(deliveries) == 1, "only the message sent before the suppression"
        print(f"{backend}: the CLI's suppression refused mail after {took:.2f}s")

        # SIGHUP reloads the list; it does not stop the service.
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while server.log().count("suppression list loaded") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        assert server.process.poll() is None
        assert refused_all(postfix.smtp_port, [canary])[canary][0] == 550

        # 5. The database goes away: mail is deferred (4xx), never delivered, then flows again.
        waiting = f"waiting-{tag}@example.org"
        with database_outage(database_url, proxy):
            deferred_after = wait_for_code(
                postfix.smtp_port, waiting, {450}, timeout=MAX_STALENESS + 10
            )
            refused = refused_all(postfix.smtp_port, [waiting, gone, f"new-{tag}@example.org"])
            for address, (code, text) in refused.items():
                assert (code, text[:6]) == (450, b"4.7.1 "), address
                assert b"Suppression list unavailable" in text
            refused = refused_all(postfix.socketmap_smtp_port, [waiting])
            assert refused[waiting][0] // 100 == 4
            assert never_delivered(sink, waiting)
            assert "failed (OperationalError" in server.log()
        print(f"{backend}: mail deferred {deferred_after:.2f}s after the database went away")
        wait_for_code(postfix.smtp_port, f"back-{tag}@example.org", {250}, timeout=30)
        assert send(postfix.smtp_port, [f"back-{tag}@example.org", gone], "back")[gone][0] == 550
        assert sink.wait_for_recipient(f"back-{tag}@example.org")
        assert "works again" in server.log()
        assert waiting not in sink.recipients()
        assert gone not in sink.recipients()
    finally:
        returncode = server.terminate()
        if proxy is not None:
            proxy.close()

    log = server.log()
    assert returncode == 0, log
    assert "policy server stopped" in log
    assert f"rcpt_domain={CANARY.partition('@')[2]} decision=suppressed reason=complaint" in log
    assert_absent(log, "the policy service's log", local=CANARY_LOCAL)
