"""Bounce ingestion: a 10 000-message mbox of DSNs through ``mailvault ingest`` vs parsing alone.

    python bench/ingest_speed.py [--messages 10000] [--database-url URL] [--batch 500]
                                 [--workers N] [--repeat 2]

The mbox is generated from real DSN templates of the shared corpus (Postfix, Sendmail, Exim,
qmail, Gmail, Office 365 and RFC 3464 samples) with a different recipient in each message
(about a third of them repeated, so pending confirmations and soft counts are exercised).
Measured: ``Vault.ingest`` in one process and with parser workers, and the ``mailvault ingest``
command itself (a subprocess: interpreter start, keyring, worker start-up and all), each
against a new store; every run must reach the same counts. Baselines over the same mbox in the
same run: the stdlib ``email`` parser (every figure is also given as a ratio to it, steadier
than msg/s on a shared machine), ``vault.bounces.parse_message`` alone, and the store side
alone. Target: ≥ 1 000 messages/s for the whole command.
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import PASSPHRASE, REPO, addresses, report, throwaway_store, timed

from vault.bounces import iter_messages, parse_message
from vault.deliveries.ingest import IngestSummary
from vault.deliveries.parsing import default_workers
from vault.deliveries.reports import Report, read_message
from vault.deliveries.services import record_reports
from vault.store import Vault

CORPUS = REPO.parent / "shared" / "corpus" / "bounces"
FAMILIES = (
    "lhost-postfix",
    "lhost-sendmail",
    "lhost-exim",
    "lhost-qmail",
    "rfc3464",
    "lhost-gmail",
    "lhost-office365",
)
PER_FAMILY = 6
TARGET = 1000.0


#: Templates the parser needs longer than this for are left out and named in the output: a
#: few corpus DSNs make ``parse_message`` backtrack for a second or more (reported to the
#: parser's owner), and 238 copies of one would measure only that.
SLOW_TEMPLATE = 0.05
slow_templates: list[str] = []


def templates() -> list[tuple[bytes, str]]:
    """(raw message, its recipient) for the first usable single-recipient DSNs of each family."""
    with (CORPUS / "expected.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    per_file: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        per_file.setdefault(row["file"], []).append(row)
    chosen: list[tuple[bytes, str]] = []
    for family in FAMILIES:
        found = 0
        for name in sorted(per_file):
            if not name.startswith(family + "-") or len(per_file[name]) != 1:
                continue
            recipient = per_file[name][0]["recipient"]
            raw = (CORPUS / name).read_bytes()
            if raw.startswith(b"From "):
                raw = raw.partition(b"\n")[2]
            probe = _substitute(raw, recipient, "probe.person@probe.example")
            started = time.perf_counter()
            found_recipients = [r.recipient for r in parse_message(probe).recipients]
            if time.perf_counter() - started > SLOW_TEMPLATE:
                slow_templates.append(name)
                continue
            if found_recipients != ["probe.person@probe.example"]:
                continue
            chosen.append((raw, recipient))
            found += 1
            if found == PER_FAMILY:
                break
    return chosen


def _substitute(raw: bytes, old: str, new: str) -> bytes:
    return re.compile(re.escape(old.encode()), re.IGNORECASE).sub(new.encode(), raw)


def write_mbox(path: Path, count: int) -> int:
    rng = random.Random(11)
    chosen = templates()
    people = addresses(int(count * 0.7))
    size = 0
    with path.open("wb") as out:
        for i in range(count):
            raw, recipient = chosen[i % len(chosen)]
            message = _substitute(raw, recipient, rng.choice(people))
            message = re.sub(rb"(?m)^(>*From )", rb">\1", message)
            chunk = b"From MAILER-DAEMON Sun Mar  1 09:30:00 2026\n" + message.rstrip(b"\n")
            out.write(chunk + b"\n\n")
            size += len(chunk)
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="Parser processes for the parallel runs (default: mailvault ingest's own).",
    )
    parser.add_argument("--repeat", type=int, default=2, help="Best of this many runs each.")
    args = parser.parse_args()
    if not (CORPUS / "expected.tsv").is_file():
        raise SystemExit(f"the shared bounce corpus is not at {CORPUS}")

    with tempfile.TemporaryDirectory(prefix="mailvault-bench-") as tmp:
        path = Path(tmp) / "dsns.mbox"
        kinds = write_mbox(path, args.messages)
        n = args.messages
        now = datetime.now(UTC)
        reports = [r for raw in iter_messages(path) for r in read_message(raw, now=now).reports]

        def stdlib() -> None:
            for raw in iter_messages(path):
                email.message_from_bytes(raw, policy=email.policy.compat32)

        def parse_only() -> None:
            for raw in iter_messages(path):
                parse_message(raw)

        times: dict[str, list[float]] = {
            "email": [],
            "parse": [],
            "ingest 1": [],
            "ingest N": [],
            "command": [],
            "store": [],
        }
        summaries: list[IngestSummary] = []
        backend = ""
        for _ in range(args.repeat):  # interleaved, so a busy spell on the machine hits all
            times["email"].append(timed(stdlib))
            times["parse"].append(timed(parse_only))
            for key, workers in (("ingest 1", 1), ("ingest N", args.workers)):
                with throwaway_store(args.database_url) as store:
                    started = time.perf_counter()
                    summaries.append(
                        store.ingest(iter_messages(path), batch_size=args.batch, workers=workers)
                    )
                    times[key].append(time.perf_counter() - started)
                    backend = store.engine.dialect.name
            with throwaway_store(args.database_url) as store:
                started = time.perf_counter()
                counts = command(store, path, args)
                times["command"].append(time.perf_counter() - started)
            with throwaway_store(args.database_url) as store:
                times["store"].append(timed(lambda: apply_only(store, reports, args.batch)))
        for summary in summaries:
            assert summary.messages == n and summary.unreadable == 0
            assert summary.counts() == summaries[0].counts() == counts
        best = {name: min(values) for name, values in times.items()}
        rate = n / best["command"]

        def row(label: str, key: str, note: str = "") -> tuple[str, str]:
            ratio = best["email"] / best[key]
            return (label, f"{n / best[key]:8.0f} msg/s  {ratio:5.2f}x stdlib parse{note}")

        report(
            f"Bounce ingestion: {n} DSNs from {kinds} corpus templates, {backend}, "
            f"batches of {args.batch}, {args.workers} worker(s), {os.cpu_count()} CPUs, "
            f"best of {args.repeat}",
            [
                row("stdlib email parse (baseline)", "email"),
                row("parse_message only", "parse"),
                row("Vault.ingest, --workers 1", "ingest 1"),
                row(f"Vault.ingest, --workers {args.workers}", "ingest N"),
                row(
                    f"mailvault ingest --workers {args.workers}",
                    "command",
                    " (the whole command: start-up, keyring, workers)",
                ),
                row("store path alone", "store", " (reports parsed beforehand)"),
                ("workers / in-process", f"{best['ingest 1'] / best['ingest N']:8.2f}x"),
                (
                    "by action",
                    ", ".join(f"{k} {v}" for k, v in sorted(summaries[0].tally.by_action.items())),
                ),
                (
                    "target (the command)",
                    f"{TARGET:8.0f} msg/s ({'met' if rate >= TARGET else 'NOT met'})",
                ),
                ("slow templates left out", ", ".join(slow_templates) or "none"),
            ],
        )


def command(store: Vault, path: Path, args: argparse.Namespace) -> dict[str, object]:
    """``mailvault ingest`` as an operator runs it, against the same kind of store; its counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    env |= {
        "MAILVAULT_DATABASE_URL": store.settings.database_url,
        "MAILVAULT_KEYS_DIR": str(store.settings.keys_dir),
        "MAILVAULT_KEK_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": str(REPO),
    }
    argv = [sys.executable, "-m", "vault", "ingest", "--json", f"--batch={args.batch}"]
    result = subprocess.run(
        [*argv, f"--workers={args.workers}", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, object] = json.loads(result.stdout)
    del counts["run_id"]
    return counts


def apply_only(store: Vault, reports: list[Report], batch: int) -> None:
    """What ``Vault.ingest`` does after parsing: apply and audit the reports batch by batch."""
    policy = store.bounce_policy()
    for start in range(0, len(reports), batch):
        with store.write() as session:
            _, tally = record_reports(
                session,
                keys=store.keys,
                reports=reports[start : start + batch],
                policy=policy,
                now=store.now(),
            )
            store._audit(session, tag="delivery:ingest", subject="bench", **tally.as_details())


if __name__ == "__main__":
    main()
