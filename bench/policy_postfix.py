"""End to end through a real Postfix: recipients per second with the mailvault policy service,
with the mailvault socketmap, and with a plain `lmdb:` access map of suppressed addresses (the
privacy-free way), interleaved in the same run.

    python bench/policy_postfix.py [--rounds 3] [--messages 200] [--sessions 10] [--entries 100000]

One private Postfix (needs root and Postfix, see tests/policy/install_postfix.sh) with five
smtpd listeners that differ only in the recipient check:

    policy          check_policy_service inet:…                 (mailvault policy-server)
    socketmap       check_recipient_access socketmap:inet:…     (the same process)
    policy-unix     check_policy_service unix:…                 (the same, over a Unix socket)
    socketmap-unix  check_recipient_access socketmap:unix:…     (the same, over a Unix socket)
    lmdb            check_recipient_access lmdb:…               (a postmap'ed file of suppressed
                                                                 addresses)

`smtp-source -A -d -s SESSIONS -m MESSAGES -r 100` submits to each in turn, relayed to
`smtp-sink`; one recipient in ten is suppressed. The error tarpit is relaxed on every listener
(docs/postfix.md §3). Submission time is what the check costs; every round then waits until
Postfix has relayed every accepted recipient and checks the counts in Postfix's log.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import addresses, report, throwaway_store
from policy_decisions import fill_store, free_port, running_server, store_env

from tests.policy.postfix_harness import (
    PostfixInstance,
    grant_postfix_group,
    postfix_missing_reason,
    socket_directory,
)
from vault.addresses import parse_address
from vault.suppressions.models import SuppressionReason

VARIANTS = ("lmdb", "policy", "socketmap", "policy-unix", "socketmap-unix")
RECIPIENTS = 100  # per message: smtp-source -r names them rcpt@, 2rcpt@, ..., 100rcpt@
SUPPRESSED_EVERY = 10  # recipients 10, 20, ..., 100 of every message

BENCH_MAIN_CF = """
# -- bench overrides ---------------------------------------------------------------------------
# No transport_maps: the comparison is the recipient check at smtpd, the rest is the same.
transport_maps =
smtpd_soft_error_limit = 100000
smtpd_hard_error_limit = 100000
lmdb_recipient_restrictions =
    check_recipient_access lmdb:{root}/conf/suppressed, permit_mynetworks, reject
"""

BENCH_MASTER_CF = """127.0.0.1:{lmdb_smtp_port} inet n - n - - smtpd
    -o smtpd_recipient_restrictions=$lmdb_recipient_restrictions
"""


class BenchPostfix(PostfixInstance):
    """The test harness's private Postfix, plus an lmdb listener and the bench overrides."""

    lmdb_smtp_port: int = 0

    def start(self) -> None:
        self.lmdb_smtp_port = free_port()
        super().start()

    def _config_values(self) -> dict[str, object]:
        return {**super()._config_values(), "lmdb_smtp_port": self.lmdb_smtp_port}

    def _main_cf(self, values: dict[str, object]) -> str:
        return super()._main_cf(values) + BENCH_MAIN_CF.format(**values)

    def _master_cf(self, values: dict[str, object]) -> str:
        return super()._master_cf(values) + BENCH_MASTER_CF.format(**values)

    def _smtp_ports(self) -> tuple[int, ...]:
        return (*super()._smtp_ports(), self.lmdb_smtp_port)

    def port_for(self, variant: str) -> int:
        return {
            "policy": self.smtp_port,
            "socketmap": self.socketmap_smtp_port,
            "lmdb": self.lmdb_smtp_port,
            "policy-unix": self.unix_policy_smtp_port,
            "socketmap-unix": self.unix_socketmap_smtp_port,
        }[variant]

    def write_lmdb(self, suppressed: list[str]) -> None:
        source = self.config_dir / "suppressed"
        source.write_text("".join(f"{a} 550 5.7.1 Recipient suppressed\n" for a in suppressed))
        subprocess.run(
            ["postmap", "-c", str(self.config_dir), f"lmdb:{source}"],
            check=True,
            capture_output=True,
            env={**os.environ, "MAIL_CONFIG": str(self.config_dir)},
        )


def recipient_base(round_no: int, variant: str) -> str:
    # A domain per round and variant, so that Postfix's log says which run a line belongs to.
    return f"rcpt@r{round_no}-{variant}.bench.example"


def suppressed_recipients(base: str) -> list[str]:
    return [f"{n}{base}" for n in range(SUPPRESSED_EVERY, RECIPIENTS + 1, SUPPRESSED_EVERY)]


def submit(port: int, base: str, *, messages: int, sessions: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "smtp-source",
            "-A",
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(messages),
            "-r",
            str(RECIPIENTS),
            "-f",
            "news@sender.example",
            "-t",
            base,
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return time.perf_counter() - started


def wait_delivered(postfix: BenchPostfix, domain: str, expected: int, started: float) -> float:
    sent = re.compile(rf"to=<\d*rcpt@{re.escape(domain)}>.*status=sent")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        count = len(sent.findall(postfix.maillog()))
        if count >= expected:
            return time.perf_counter() - started
        time.sleep(0.2)
    other = [
        line
        for line in postfix.maillog().splitlines()
        if domain in line and "status=sent" not in line and "reject: RCPT" not in line
    ]
    raise AssertionError(
        f"{domain}: only {count} of {expected} recipients relayed:\n" + "\n".join(other[-20:])
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--entries", type=int, default=100_000, help="other suppressions")
    args = parser.parse_args()
    missing = postfix_missing_reason()
    if missing:
        raise SystemExit(missing)

    suppressed = [
        a
        for r in range(args.rounds)
        for v in VARIANTS
        for a in suppressed_recipients(recipient_base(r, v))
    ]
    per_run = args.messages * RECIPIENTS
    accepted = args.messages * (RECIPIENTS - RECIPIENTS // SUPPRESSED_EVERY)
    submit_times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    total_times: dict[str, list[float]] = {v: [] for v in VARIANTS}

    with throwaway_store() as store, tempfile.TemporaryDirectory() as logs:
        fill_store(store, addresses(args.entries, seed=5))
        store.suppress(
            [parse_address(a) for a in suppressed],
            reason=SuppressionReason.UNSUBSCRIBE,
            source="bench",
        )
        sink_port = free_port()
        sink = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", f"127.0.0.1:{sink_port}", "1000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with (
                socket_directory() as sockets,
                running_server(
                    "mailvault", store_env(store), Path(logs), sockets=sockets
                ) as server,
            ):
                grant_postfix_group(sockets / "policy.sock", sockets / "socketmap.sock")
                postfix = BenchPostfix(
                    policy_port=server.policy_port,
                    socketmap_port=server.socketmap_port,
                    sink_port=sink_port,
                    policy_socket=sockets / "policy.sock",
                    socketmap_socket=sockets / "socketmap.sock",
                )
                try:
                    postfix.start()
                    postfix.write_lmdb(suppressed)
                    # Warm up every listener (process start, connections to the service).
                    for variant in VARIANTS:
                        submit(
                            postfix.port_for(variant),
                            "w@warmup.example",
                            messages=20,
                            sessions=args.sessions,
                        )
                    for round_no in range(args.rounds):
                        # Rotate the order, so that no variant always runs first.
                        shift = round_no % len(VARIANTS)
                        order = VARIANTS[shift:] + VARIANTS[:shift]
                        for variant in order:
                            base = recipient_base(round_no, variant)
                            started = time.perf_counter()
                            submit_times[variant].append(
                                submit(
                                    postfix.port_for(variant),
                                    base,
                                    messages=args.messages,
                                    sessions=args.sessions,
                                )
                            )
                            domain = base.partition("@")[2]
                            total_times[variant].append(
                                wait_delivered(postfix, domain, accepted, started)
                            )
                            log = postfix.maillog()
                            rejected = len(
                                re.findall(rf"reject: RCPT .*<\d+rcpt@{re.escape(domain)}>", log)
                            )
                            relayed_suppressed = len(
                                re.findall(
                                    rf"to=<(?:\d*0)rcpt@{re.escape(domain)}>.*status=sent", log
                                )
                            )
                            assert rejected == per_run - accepted, (variant, rejected)
                            assert relayed_suppressed == 0, (variant, relayed_suppressed)
                finally:
                    postfix.stop()
        finally:
            sink.terminate()
            sink.wait(10)

    def rate(times: list[float]) -> float:
        return per_run / statistics.median(times)

    lmdb_submit, lmdb_total = rate(submit_times["lmdb"]), rate(total_times["lmdb"])
    rows = []
    for variant, label in (
        ("lmdb", "lmdb: access map (baseline)"),
        ("policy", "mailvault policy service"),
        ("socketmap", "mailvault socketmap"),
        ("policy-unix", "mailvault policy service, Unix socket"),
        ("socketmap-unix", "mailvault socketmap, Unix socket"),
    ):
        s, t = rate(submit_times[variant]), rate(total_times[variant])
        rows.append(
            (
                label,
                f"{s:,.0f} rcpt/s submitted ({s / lmdb_submit:.2f}x), "
                f"{t:,.0f} rcpt/s relayed ({t / lmdb_total:.2f}x)",
            )
        )
    rows.append(
        (
            "every round, submitted rcpt/s",
            "; ".join(
                f"{v} " + "/".join(f"{per_run / x:,.0f}" for x in submit_times[v]) for v in VARIANTS
            ),
        )
    )
    report(
        f"end to end through Postfix: smtp-source -A -d -s {args.sessions} -m {args.messages} "
        f"-r {RECIPIENTS}, 10 % suppressed, median of {args.rounds} interleaved rounds "
        f"(target >= 0.8x lmdb)",
        rows,
    )
    print(f"  (counts checked: {per_run - accepted} refused, {accepted} relayed per run)")


if __name__ == "__main__":
    main()
