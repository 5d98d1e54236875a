"""A private, real Postfix for the end-to-end tests: its own config, queue and data directories
under a temporary root, listening on loopback ports chosen at run time, relaying to a sink.

It never touches the system's Postfix (/etc/postfix, /var/spool/postfix) and needs root, as
Postfix's master does. ``tests/policy/install_postfix.sh`` installs the binaries.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
POSTQUEUE = "/usr/sbin/postqueue"
INSTALL_HINT = "tests/policy/install_postfix.sh"


def postfix_missing_reason() -> str | None:
    """Why the e2e tests cannot run here, or None when they can."""
    if not (os.path.exists(POSTFIX) or shutil.which("postfix")):
        return (
            f"POSTFIX IS NOT INSTALLED: the end-to-end tests need a real Postfix. "
            f"Run `sh {INSTALL_HINT}` as root; CI must run it before the tests."
        )
    if os.geteuid() != 0:
        return "the Postfix end-to-end tests run a private Postfix master, which needs root"
    return None


def need_postfix() -> None:
    """Skip when Postfix cannot run here; in CI (CI=true) fail instead, so that a CI machine
    without Postfix can never pass by skipping the tests that matter most."""
    reason = postfix_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the Postfix end-to-end tests: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A loopback port free right now (a race with other programs is possible, not likely)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the sink ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


class _SinkHandler:
    def __init__(self) -> None:
        self.messages: list[Delivered] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.messages.append(
                Delivered(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    content=content,
                )
            )
        return "250 OK"


class Sink:
    """An SMTP server on loopback that keeps every message Postfix relays to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _SinkHandler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Delivered]:
        with self._handler.lock:
            return list(self._handler.messages)

    def recipients(self) -> set[str]:
        return {rcpt.lower() for message in self.messages for rcpt in message.rcpt_tos}

    def wait_for(self, predicate: Callable[[list[Delivered]], bool], *, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages):
                return True
            time.sleep(0.05)
        return predicate(self.messages)

    def wait_for_recipient(self, address: str, *, timeout: float = 15.0) -> bool:
        return self.wait_for(
            lambda msgs: any(address.lower() in (r.lower() for r in m.rcpt_tos) for m in msgs),
            timeout=timeout,
        )


# -- the Postfix instance ------------------------------------------------------------------------

MAIN_CF = """\
# Written by tests/policy/postfix_harness.py for one test run; nothing here is system-wide.
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mailvault-e2e.test
mydomain = mailvault-e2e.test
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink_port}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
# The e2e tests read Postfix's 4xx/5xx replies; the error tarpit would only slow them down.
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
# Retry deferred mail quickly so that the tests can watch it stay deferred, not linger.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
bounce_queue_lifetime = 1d
maximal_queue_lifetime = 1d
delay_warning_time = 0h
# The path under test on the main listener: policy delegation, before permit_mynetworks.
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
    check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=5s,
        default_action=DEFER_IF_PERMIT }},
    permit_mynetworks, reject
# The socketmap path, used by the second listener in master.cf.
socketmap_recipient_restrictions =
    check_recipient_access socketmap:inet:127.0.0.1:{socketmap_port}:suppressed,
    permit_mynetworks, reject
# What Postfix does when the policy service is not there at all (nothing listens on that port).
dead_policy_restrictions =
    check_policy_service {{ inet:127.0.0.1:{dead_policy_port}, timeout=5s,
        default_action=DEFER_IF_PERMIT }},
    permit_mynetworks, reject
# The routing path: every recipient, whatever way it came in (smtpd or sendmail/pickup).
transport_maps = socketmap:inet:127.0.0.1:{socketmap_port}:transport
"""

# The same two checks over Unix sockets, for the listeners added when the service has them.
UNIX_MAIN_CF = """
unix_policy_restrictions =
    check_policy_service {{ unix:{policy_socket}, timeout=5s,
        default_action=DEFER_IF_PERMIT }},
    permit_mynetworks, reject
unix_socketmap_restrictions =
    check_recipient_access socketmap:unix:{socketmap_socket}:suppressed,
    permit_mynetworks, reject
"""

UNIX_MASTER_CF = """\
127.0.0.1:{unix_policy_smtp_port} inet n - n - - smtpd
    -o smtpd_recipient_restrictions=$unix_policy_restrictions
127.0.0.1:{unix_socketmap_smtp_port} inet n - n - - smtpd
    -o smtpd_recipient_restrictions=$unix_socketmap_restrictions
"""

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{smtp_port} inet n - n - - smtpd
127.0.0.1:{socketmap_smtp_port} inet n - n - - smtpd
    -o smtpd_recipient_restrictions=$socketmap_recipient_restrictions
127.0.0.1:{dead_policy_smtp_port} inet n - n - - smtpd
    -o smtpd_recipient_restrictions=$dead_policy_restrictions
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class PostfixInstance:
    """One private Postfix; ``start`` writes its configuration and starts its master."""

    policy_port: int
    socketmap_port: int
    sink_port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mailvault-pf-")))
    smtp_port: int = field(default_factory=free_port)
    socketmap_smtp_port: int = field(default_factory=free_port)
    dead_policy_smtp_port: int = field(default_factory=free_port)
    dead_policy_port: int = field(default_factory=free_port)
    # The service's Unix sockets, if it has them: two more listeners check through those.
    policy_socket: Path | None = None
    socketmap_socket: Path | None = None
    unix_policy_smtp_port: int = field(default_factory=free_port)
    unix_socketmap_smtp_port: int = field(default_factory=free_port)

    @property
    def over_unix(self) -> bool:
        return self.policy_socket is not None and self.socketmap_socket is not None

    @property
    def config_dir(self) -> Path:
        return self.root / "conf"

    @property
    def maillog_path(self) -> Path:
        return self.root / "maillog"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "MAIL_CONFIG": str(self.config_dir)}

    def start(self) -> None:
        # Postfix's daemons run as user "postfix" and must reach the queue: the root of the
        # tree must be traversable (mkdtemp makes it 0700). Nothing secret lives there.
        os.chmod(self.root, 0o755)  # noqa: S103
        self.config_dir.mkdir()
        # postfix(1) chdirs to the queue before its own "create-missing" step makes the rest.
        (self.root / "queue").mkdir(mode=0o755)
        values = self._config_values()
        (self.config_dir / "main.cf").write_text(self._main_cf(values))
        (self.config_dir / "master.cf").write_text(self._master_cf(values))
        self._postfix("start")
        for port in self._smtp_ports():
            self._wait_listening(port)

    # Hooks for a variant of this instance (bench/policy_postfix.py adds an lmdb listener).
    def _config_values(self) -> dict[str, object]:
        return {
            "root": self.root,
            "sink_port": self.sink_port,
            "policy_port": self.policy_port,
            "socketmap_port": self.socketmap_port,
            "smtp_port": self.smtp_port,
            "socketmap_smtp_port": self.socketmap_smtp_port,
            "dead_policy_smtp_port": self.dead_policy_smtp_port,
            "dead_policy_port": self.dead_policy_port,
            "policy_socket": self.policy_socket,
            "socketmap_socket": self.socketmap_socket,
            "unix_policy_smtp_port": self.unix_policy_smtp_port,
            "unix_socketmap_smtp_port": self.unix_socketmap_smtp_port,
        }

    def _main_cf(self, values: dict[str, object]) -> str:
        return MAIN_CF.format(**values) + (UNIX_MAIN_CF.format(**values) if self.over_unix else "")

    def _master_cf(self, values: dict[str, object]) -> str:
        unix = UNIX_MASTER_CF.format(**values) if self.over_unix else ""
        return MASTER_CF.format(**values) + unix

    def _smtp_ports(self) -> tuple[int, ...]:
        unix = (self.unix_policy_smtp_port, self.unix_socketmap_smtp_port) if self.over_unix else ()
        return (self.smtp_port, self.socketmap_smtp_port, self.dead_policy_smtp_port, *unix)

    def stop(self) -> None:
        """Stop the master cleanly; kill whatever is left of this instance; remove the tree."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._postfix("stop", check=False)
        self._kill_leftovers()
        shutil.rmtree(self.root, ignore_errors=True)

    def reload(self) -> None:
        """Restart Postfix's daemons (and so drop their caches) without losing the queue."""
        self._postfix("reload")

    def flush(self) -> None:
        """Ask the queue manager to try every deferred message now."""
        subprocess.run(
            [POSTQUEUE, "-c", str(self.config_dir), "-f"],
            capture_output=True,
            timeout=30,
            env=self._env(),
            check=True,
        )

    def _postfix(self, command: str, *, check: bool = True) -> None:
        result = subprocess.run(
            [POSTFIX, "-c", str(self.config_dir), command],
            capture_output=True,
            text=True,
            timeout=60,
            env=self._env(),
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"postfix {command} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
                f"\nmaillog:\n{self.maillog()}"
            )

    def _kill_leftovers(self) -> None:
        # The master's pid file names only the master; its children exit with it, but a
        # master that failed to stop is killed by pid, never by name.
        pid_file = self.root / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid = _read_pid(pid_file)
            if pid is None or not _alive(pid):
                return
            time.sleep(0.1)
        pid = _read_pid(pid_file)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def _wait_listening(self, port: int, *, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"postfix is not listening on {port}:\n{self.maillog()}")

    def maillog(self) -> str:
        try:
            return self.maillog_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, *, timeout: float = 15.0) -> re.Match[str] | None:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(self.maillog())
            if match:
                return match
            time.sleep(0.05)
        return regex.search(self.maillog())

    def sendmail(self, *, sender: str, recipients: list[str], message: EmailMessage) -> None:
        """Inject like a local program does: sendmail → postdrop → pickup, no smtpd."""
        result = subprocess.run(
            [SENDMAIL, "-C", str(self.config_dir), "-f", sender, "-i", "--", *recipients],
            input=message.as_bytes(),
            capture_output=True,
            timeout=30,
            env=self._env(),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"sendmail failed: {result.stderr.decode(errors='replace')}")

    def queue(self) -> list[dict[str, object]]:
        """The queue as postqueue -j reports it: one dict per message."""
        result = subprocess.run(
            [POSTQUEUE, "-c", str(self.config_dir), "-j"],
            capture_output=True,
            text=True,
            timeout=30,
            env=self._env(),
            check=True,
        )
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def socket_directory() -> Iterator[Path]:
    """A directory for the service's Unix sockets that Postfix's smtpd (user postfix) can reach."""
    path = Path(tempfile.mkdtemp(prefix="mailvault-sockets-"))
    os.chmod(path, 0o755)  # noqa: S103 - smtpd must traverse it; nothing secret lives here
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def grant_postfix_group(*sockets: Path) -> None:
    """Give the sockets (mode 0660) to a group smtpd belongs to. In production that is the
    service's own group with user postfix added to it (docs/postfix.md); here, group postfix."""
    gid = grp.getgrnam("postfix").gr_gid
    for socket_path in sockets:
        os.chown(socket_path, -1, gid)


@contextlib.contextmanager
def running_postfix(
    *,
    policy_port: int,
    socketmap_port: int,
    sink_port: int,
    policy_socket: Path | None = None,
    socketmap_socket: Path | None = None,
) -> Iterator[PostfixInstance]:
    instance = PostfixInstance(
        policy_port=policy_port,
        socketmap_port=socketmap_port,
        sink_port=sink_port,
        policy_socket=policy_socket,
        socketmap_socket=socketmap_socket,
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
