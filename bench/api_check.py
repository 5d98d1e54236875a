"""Single suppression check over HTTP against a trivial FastAPI endpoint served the same way.

    python bench/api_check.py [--requests 3000] [--rounds 3] [--blocks 10]

Both servers are uvicorn subprocesses with mailvault's log config (access log on); one client
(httpx, keep-alive) sends the same one-address POST to each, alternating in short blocks.
Reported: the best round of each and their ratio, each round's ratio, and the median of the
blocks' ratios (the steadiest figure when the machine's load moves from minute to minute).
Target: mailvault >= 0.6x the trivial endpoint's requests/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx
from _api_common import (
    Role,
    Vault,
    env_for,
    make_store,
    server,
    suppress_many,
    temp_dir,
    token,
)

BODY = {"addresses": ["someone.17@example.com"], "list": None}


def timed_block(http: httpx.Client, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        http.post("/v1/suppressions/check", json=BODY).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=10, help="alternations per round")
    args = parser.parse_args()
    from pathlib import Path

    with temp_dir() as tmp:
        settings = make_store(Path(tmp))
        store = Vault.open(settings)
        suppress_many(store, [f"someone.{i}@example.com" for i in range(0, 100_000, 2)])
        sender = {"Authorization": f"Bearer {token(store, Role.SENDER)}"}
        store.close()
        env = env_for(settings)
        mv_argv = [sys.executable, "-m", "vault", "serve", "--port", "{port}"]
        trivial_argv = [sys.executable, "bench/_trivial_server.py", "{port}"]
        with (
            server(mv_argv, env) as mv,
            server(trivial_argv, env) as trivial,
            httpx.Client(base_url=mv, headers=sender) as ours_http,
            httpx.Client(base_url=trivial) as base_http,
        ):
            for http in (base_http, ours_http):  # warm up (token cache, connection, code paths)
                timed_block(http, 200)
            # Short alternating blocks, so that a change of load on the shared machine lands on
            # both sides alike; a round's rate is its requests over the time of its blocks.
            block = max(1, args.requests // args.blocks)
            ours, base, per_block = [], [], []
            for _ in range(args.rounds):
                base_time = ours_time = 0.0
                for _ in range(args.blocks):
                    b = timed_block(base_http, block)
                    o = timed_block(ours_http, block)
                    base_time, ours_time = base_time + b, ours_time + o
                    per_block.append(b / o)
                base.append(block * args.blocks / base_time)
                ours.append(block * args.blocks / ours_time)
    best_ours, best_base = max(ours), max(base)
    runs = f"rounds {[round(r) for r in base]}"
    print(f"trivial FastAPI endpoint: {best_base:8.0f} requests/s ({runs})")
    runs = f"rounds {[round(r) for r in ours]}"
    print(f"mailvault single check:   {best_ours:8.0f} requests/s ({runs})")
    print(f"ratio of best rounds: {best_ours / best_base:.2f}x  (target >= 0.60x)")
    ratios = [o / b for o, b in zip(ours, base, strict=True)]
    print(f"ratio in each round: {', '.join(f'{r:.2f}x' for r in ratios)}")
    print(f"median of {len(per_block)} block ratios: {statistics.median(per_block):.2f}x")


if __name__ == "__main__":
    main()
