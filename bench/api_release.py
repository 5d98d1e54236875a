"""Release of a mailing with 100 000 recipients: decrypted, checked against suppressions at
release time, and streamed as NDJSON.

    python bench/api_release.py [--recipients 100000] [--repeat 3]

Measured over HTTP against ``mailvault serve`` (a streaming client counting lines) and in
process (``ndjson_blocks``, what the API route streams). Baseline in the same run: decrypting
the same rows in a bare loop (``LocalPartCipher.open`` per row), the floor any release must pay.
Each figure is the best of ``--repeat`` passes, a fresh mailing each. Besides the wall-clock
rates, the CPU rates (addresses per CPU second of the process doing the work: this one in
process, the server over HTTP) say what one idle core would do: on a shared machine the wall
clock mostly measures the other jobs. Target: >= 100 000 addresses/s over HTTP.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import httpx
from _api_common import (
    PUBLIC_URL,
    Role,
    Vault,
    add_subscribers,
    cpu_seconds,
    env_for,
    make_store,
    server_process,
    suppress_many,
    temp_dir,
    token,
)
from sqlalchemy import select


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from vault.audit.services import Actor
    from vault.mailings import release as releases
    from vault.mailings import services as mailings
    from vault.mailings.segments import DomainRules
    from vault.subscribers.models import MailingList, Subscriber
    from vault.suppressions.models import SuppressionReason

    n = args.recipients
    expected_lines = n - n // 100
    addresses = [f"Reader.{i}@domain{i % 500}.example" for i in range(n)]
    with temp_dir() as tmp:
        settings = make_store(Path(tmp))
        store = Vault.open(settings)
        store.create_list("big")
        add_subscribers(store, "big", addresses)
        # 1 % suppressed as manual entries, which leave the subscriber's status alone: only the
        # release-time check can exclude them.
        suppress_many(store, addresses[::100], SuppressionReason.MANUAL)
        with store.read() as session:
            rows = session.execute(
                select(Subscriber.id, Subscriber.domain, Subscriber.sealed_local_part)
            ).all()

        def new_mailing() -> uuid.UUID:
            with store.write() as session:
                found = session.scalars(select(MailingList).where(MailingList.name == "big")).one()
                return mailings.create(
                    session,
                    name="bench",
                    mailing_list=found,
                    rules=DomainRules(),
                    created_by="bench",
                    now=store.now(),
                ).id

        def bare_loop() -> tuple[float, float]:
            started, cpu = time.perf_counter(), time.process_time()
            for subscriber_id, domain, sealed in rows:
                store.keys.cipher.open(sealed, subscriber_id=subscriber_id, domain=domain)
            return time.perf_counter() - started, time.process_time() - cpu

        def in_process() -> tuple[float, float]:
            actor = Actor("bench", "sender")
            ticket = releases.start(store, actor=actor, mailing_id=new_mailing(), reason="bench")
            report = releases.ReleaseReport()
            started, cpu = time.perf_counter(), time.process_time()
            lines = 0
            for block in releases.ndjson_blocks(store, ticket, report, public_url=PUBLIC_URL):
                lines += block.count(b"\n")
            elapsed = time.perf_counter() - started, time.process_time() - cpu
            assert report.suppressed == n // 100
            assert lines == expected_lines
            return elapsed

        baseline = [bare_loop() for _ in range(args.repeat)]
        generator = [in_process() for _ in range(args.repeat)]

        headers = {"Authorization": f"Bearer {token(store, Role.SENDER)}"}
        http_mailings = [new_mailing() for _ in range(args.repeat)]
        store.close()
        argv = [sys.executable, "-m", "vault", "serve", "--port", "{port}"]
        http: list[tuple[float, float]] = []
        with (
            server_process(argv, env_for(settings)) as (base, process),
            httpx.Client(base_url=base, timeout=120) as client,
        ):
            for mailing_id in http_mailings:
                started, cpu = time.perf_counter(), cpu_seconds(process)
                received = 0
                with client.stream(
                    "POST",
                    f"/v1/mailings/{mailing_id}/release",
                    json={"reason": "bench"},
                    headers=headers,
                ) as response:
                    response.raise_for_status()
                    for _line in response.iter_lines():
                        received += 1
                http.append((time.perf_counter() - started, cpu_seconds(process) - cpu))
                assert received == expected_lines + 1  # recipients and the summary line

    def rates(passes: list[tuple[float, float]]) -> tuple[float, float]:
        return n / min(p[0] for p in passes), n / min(p[1] for p in passes)

    base_wall, base_cpu = rates(baseline)
    print(f"recipients: {n} ({n // 100} suppressed at release time), best of {args.repeat}")
    print(f"{'':38} {'wall addresses/s':>18} {'CPU addresses/s':>17}")
    for name, passes in (
        ("bare decrypt loop (baseline)", baseline),
        ("release generator (in process)", generator),
        ("release over HTTP (uvicorn, NDJSON)", http),
    ):
        wall, cpu = rates(passes)
        print(f"{name:38} {wall:9.0f} ({wall / base_wall:.2f}x) {cpu:9.0f} ({cpu / base_cpu:.2f}x)")
    http_wall, http_cpu = rates(http)
    print(
        f"target >= 100000 addresses/s over HTTP: {http_wall / 100_000:.2f}x of target "
        f"(wall clock), {http_cpu / 100_000:.2f}x per CPU second of the server"
    )


if __name__ == "__main__":
    main()
