"""Release of a mailing with 100 000 recipients: decrypted, checked against suppressions at
release time, and streamed as NDJSON.

    python bench/api_release.py [--recipients 100000]

Measured over HTTP against ``mailvault serve`` (a streaming client counting lines) and in
process (the release generator alone). Baseline in the same run: decrypting the same rows in a
bare loop, the floor any release must pay. Target: >= 100 000 addresses/s decrypted and streamed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from _api_common import (
    PUBLIC_URL,
    Role,
    Vault,
    add_subscribers,
    env_for,
    make_store,
    server,
    suppress_many,
    temp_dir,
    token,
)
from sqlalchemy import select


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    from vault.audit.services import Actor
    from vault.mailings import release as releases
    from vault.mailings import services as mailings
    from vault.mailings.segments import DomainRules
    from vault.subscribers.models import Subscriber
    from vault.suppressions.models import SuppressionReason

    n = args.recipients
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
        started = time.perf_counter()
        for subscriber_id, domain, sealed in rows:
            store.keys.cipher.open(sealed, subscriber_id=subscriber_id, domain=domain)
        decrypt_rate = len(rows) / (time.perf_counter() - started)

        def new_mailing() -> object:
            with store.write() as session:
                big = session.scalars(select(Subscriber.list_id).limit(1)).one()
                from vault.subscribers.models import MailingList

                found = session.get(MailingList, big)
                assert found is not None
                return mailings.create(
                    session,
                    name="bench",
                    mailing_list=found,
                    rules=DomainRules(),
                    created_by="bench",
                    now=store.now(),
                ).id

        actor = Actor("bench", "sender")
        ticket = releases.start(store, actor=actor, mailing_id=new_mailing(), reason="bench")
        report = releases.ReleaseReport()
        started = time.perf_counter()
        lines = 0
        for block in releases.ndjson_blocks(store, ticket, report, public_url=PUBLIC_URL):
            lines += block.count(b"\n")
        in_process_rate = n / (time.perf_counter() - started)
        assert report.suppressed == n // 100
        assert lines == n - n // 100

        headers = {"Authorization": f"Bearer {token(store, Role.SENDER)}"}
        mailing_id = new_mailing()
        store.close()
        argv = [sys.executable, "-m", "vault", "serve", "--port", "{port}"]
        with server(argv, env_for(settings)) as base, httpx.Client(base_url=base, timeout=120) as c:
            started = time.perf_counter()
            received = 0
            with c.stream(
                "POST",
                f"/v1/mailings/{mailing_id}/release",
                json={"reason": "bench"},
                headers=headers,
            ) as response:
                response.raise_for_status()
                for _line in response.iter_lines():
                    received += 1
            http_rate = n / (time.perf_counter() - started)
    assert received == n - n // 100 + 1  # recipients and the summary line
    print(f"recipients: {n} ({n // 100} suppressed at release time)")
    print(f"bare decrypt loop (baseline):        {decrypt_rate:9.0f} addresses/s")
    print(
        f"release generator (in process):      {in_process_rate:9.0f} addresses/s "
        f"({in_process_rate / decrypt_rate:.2f}x baseline)"
    )
    print(
        f"release over HTTP (uvicorn, NDJSON): {http_rate:9.0f} addresses/s "
        f"({http_rate / decrypt_rate:.2f}x baseline)"
    )
    print(f"target >= 100000 addresses/s -> {http_rate / 100_000:.2f}x target over HTTP")


if __name__ == "__main__":
    main()
