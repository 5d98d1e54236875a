"""Batch check of 10 000 addresses in one request.

    python bench/api_batch_check.py [--rounds 5]

Server time is measured in process (the ASGI app called directly: parsing, auth, the check,
serialization; no network), and end to end over HTTP against ``mailvault serve``. Baseline in
the same run: the core ``Vault.check`` of the same 10 000 addresses, which the endpoint wraps.
Target: server time < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
from _api_common import Role, Vault, env_for, make_store, server, suppress_many, temp_dir, token

ADDRESSES = [f"person.{i}@domain{i % 300}.example" for i in range(10_000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from vault.api.app import create_app

    body = {"addresses": ADDRESSES, "list": None}
    with temp_dir() as tmp:
        settings = make_store(Path(tmp))
        store = Vault.open(settings)
        suppress_many(store, [f"person.{i}@domain{i % 300}.example" for i in range(0, 100_000, 10)])
        headers = {"Authorization": f"Bearer {token(store, Role.SENDER)}"}
        core = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            store.check(ADDRESSES)
            core.append(time.perf_counter() - started)

        async def in_process() -> list[float]:
            transport = httpx.ASGITransport(app=create_app(store))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                times = []
                for _ in range(args.rounds + 1):
                    started = time.perf_counter()
                    response = await http.post("/v1/suppressions/check", json=body, headers=headers)
                    times.append(time.perf_counter() - started)
                    assert len(response.json()["results"]) == 10_000
                return times[1:]

        server_times = asyncio.run(in_process())
        store.close()
        argv = [sys.executable, "-m", "vault", "serve", "--port", "{port}"]
        with server(argv, env_for(settings)) as base, httpx.Client(base_url=base, timeout=60) as c:
            http_times = []
            for _ in range(args.rounds + 1):
                started = time.perf_counter()
                c.post("/v1/suppressions/check", json=body, headers=headers).raise_for_status()
                http_times.append(time.perf_counter() - started)
            http_times = http_times[1:]
    ms = lambda xs: f"median {statistics.median(xs) * 1e3:6.1f} ms, best {min(xs) * 1e3:6.1f} ms"  # noqa: E731
    print(f"core Vault.check, 10 000 addresses:     {ms(core)}")
    print(f"API server time (in process, ASGI):     {ms(server_times)}")
    print(f"API over HTTP (uvicorn, localhost):     {ms(http_times)}")
    ratio = statistics.median(server_times) / statistics.median(core)
    print(f"API server time / core check: {ratio:.2f}x")
    print(f"target: server time < 100 ms -> {statistics.median(server_times) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
