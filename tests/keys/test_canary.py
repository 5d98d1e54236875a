"""Privacy invariant 1 on the key lifecycle paths: rewrap and rehash on sight decrypt or see the
canary's local part, and must log, audit and store nothing that contains it."""

from __future__ import annotations

import io
import subprocess
import sys

from sqlalchemy import select

from tests.canary import CANARY, CANARY_LOCAL, assert_absent, database_bytes
from tests.conftest import REPO
from vault.addresses import parse_address
from vault.audit.models import AuditEntry
from vault.crypto import Purpose
from vault.keys import services
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.suppressions.models import SuppressionReason


def test_lifecycle_paths_leak_no_canary(
    store: Vault, database_url: str, captured_logs: io.StringIO, cli_env: dict[str, str]
) -> None:
    store.create_list("news")
    store.subscribe(CANARY, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form")
    store.suppress([parse_address(CANARY)], reason=SuppressionReason.COMPLAINT, source="dsn")
    for purpose in (Purpose.ADDRESS, Purpose.INDEX, Purpose.SUPPRESSION):
        services.rotate(store, purpose=purpose)
    # Rewrap decrypts the canary's local part; a damaged row makes it report a problem too.
    result = services.rewrap(store, batch=1)
    assert result.rows == 1
    # Rehash on sight, through a check and through suppress.
    assert store.check([CANARY.upper()])[0].suppressed
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    assert (
        store.suppress(
            [parse_address(CANARY)], reason=SuppressionReason.COMPLAINT, source="dsn"
        ).rehashed
        == 1
    )
    services.retire(store, purpose=Purpose.SUPPRESSION, version=1)
    services.retire(store, purpose=Purpose.SUPPRESSION, version=2)
    with store.write() as session:  # a row that fails to open in the next rewrap
        row = session.scalars(select(Subscriber)).one()
        # Flip a bit: setting the last byte to 0 changes nothing when it already is 0.
        row.sealed_local_part = row.sealed_local_part[:-1] + bytes([row.sealed_local_part[-1] ^ 1])
    services.rotate(store, purpose=Purpose.ADDRESS)
    broken = services.rewrap(store)
    assert broken.unreadable == 1
    assert_absent(" ".join(broken.problems), "rewrap's problem report")

    cli_runs = [
        subprocess.run(
            [sys.executable, "-m", "vault", *args],
            env={**cli_env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for args in (
            ("keys", "rewrap", "--dry-run"),
            ("keys", "rewrap"),
            ("keys", "status"),
            ("check", CANARY),
        )
    ]
    for run in cli_runs:
        assert_absent(run.stderr, f"stderr of mailvault {run.args[3:5]}")
    assert_absent(cli_runs[1].stdout + cli_runs[2].stdout, "keys output")

    assert CANARY_LOCAL.lower() not in captured_logs.getvalue().lower()
    assert_absent(captured_logs.getvalue(), "the captured logs")
    assert_absent(database_bytes(database_url), "the database")
    with store.read() as session:
        for entry in session.scalars(select(AuditEntry)):
            assert_absent(f"{entry.subject} {entry.details}", "the audit log")
