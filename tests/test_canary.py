"""Privacy invariant 1 as a test: the canary's local part reaches no stored byte and no log line
on any path of the core store (subscribe, import, suppress, check, unsubscribe, erase)."""

import csv
import io
import subprocess
import sys
from pathlib import Path

from tests.canary import CANARY, CANARY_LOCAL, assert_absent, database_bytes, occurrences
from vault.addresses import parse_address
from vault.store import Vault
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import SuppressionReason


def test_the_scanner_finds_what_it_should() -> None:
    assert occurrences(f"xx{CANARY_LOCAL.lower()}yy".encode())
    import base64

    assert occurrences(base64.b64encode(b"ab" + CANARY.encode()))
    assert occurrences(CANARY_LOCAL.encode("utf-16-le"))
    assert not occurrences(b"an innocent line about canary-test.example")


def test_canary_never_stored_or_logged(
    store: Vault,
    database_url: str,
    tmp_path: Path,
    captured_logs: io.StringIO,
    cli_env: dict[str, str],
) -> None:
    store.create_list("news")
    store.create_list("offers")
    subscribed = store.subscribe(
        CANARY, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form"
    )
    assert subscribed.outcome == "created"
    path = tmp_path / "import.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email"])
        writer.writerows(
            [
                [CANARY.upper()],
                [f"{CANARY_LOCAL}@other.example"],
                [f"{CANARY_LOCAL}@@bad"],
                ["x@y.example"],
            ]
        )
    summary = store.import_csv(
        path, list_name="offers", consent=ConsentMethod.IMPORTED, source="crm"
    )
    assert summary.imported == 3 and summary.invalid == 1
    assert_absent((tmp_path / "import.rejects.csv").read_bytes(), "the rejects file")
    store.suppress([parse_address(CANARY)], reason=SuppressionReason.HARD_BOUNCE, source="dsn")
    assert store.check([CANARY])[0].suppressed
    store.unsubscribe(f"{CANARY_LOCAL}@other.example", list_name="offers", source="link")
    assert store.subject_access(CANARY)["address"] == CANARY  # an echo of what was asked

    # The same paths through the command line, whose stderr is its log.
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vault", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    cli_runs = [
        cli("subscribe", CANARY, "--list", "offers", "--consent", "single_opt_in"),
        cli("suppress", "--reason", "complaint", CANARY, f"{CANARY_LOCAL}@@broken"),
        cli("check", "--json", CANARY),
        cli("erase", CANARY),
    ]
    for run in cli_runs:
        assert_absent(run.stderr, f"stderr of mailvault ({run.args[3:5]})")
    assert CANARY in cli_runs[2].stdout  # the check echoes what the caller sent, nothing more
    store.erase(f"{CANARY_LOCAL}@other.example", source="ticket")

    assert_absent(captured_logs.getvalue(), "the captured logs")
    assert_absent(database_bytes(database_url), "the database")
    with store.read() as session:
        from sqlalchemy import select

        from vault.audit.models import AuditEntry

        for entry in session.scalars(select(AuditEntry)):
            assert_absent(f"{entry.subject} {entry.details}", "the audit log")


def test_database_scan_finds_a_planted_canary(store: Vault, database_url: str) -> None:
    """Positive control: were a local part ever stored, the scan above would see it."""
    store.create_list(f"planted {CANARY_LOCAL}")
    assert occurrences(database_bytes(database_url))
