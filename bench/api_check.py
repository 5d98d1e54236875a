"""Single suppression check over HTTP against a trivial FastAPI endpoint served the same way.

    python bench/api_check.py [--requests 3000]

Both servers are uvicorn subprocesses with mailvault's log config (access log on); one client
(httpx, keep-alive) sends the same one-address POST to each, alternating rounds, best of three.
Target: mailvault >= 0.6x the trivial endpoint's requests/s.
"""

from __future__ import annotations

import argparse
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


def rate(base: str, headers: dict[str, str], n: int) -> float:
    with httpx.Client(base_url=base, headers=headers) as http:
        for _ in range(200):  # warm up (token cache, connection, code paths)
            http.post("/v1/suppressions/check", json=BODY).raise_for_status()
        started = time.perf_counter()
        for _ in range(n):
            http.post("/v1/suppressions/check", json=BODY).raise_for_status()
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
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
        with server(mv_argv, env) as mv, server(trivial_argv, env) as trivial:
            ours, base = [], []
            for _ in range(3):
                base.append(rate(trivial, {}, args.requests))
                ours.append(rate(mv, sender, args.requests))
    best_ours, best_base = max(ours), max(base)
    runs = f"runs {[round(r) for r in base]}"
    print(f"trivial FastAPI endpoint: {best_base:8.0f} requests/s ({runs})")
    runs = f"runs {[round(r) for r in ours]}"
    print(f"mailvault single check:   {best_ours:8.0f} requests/s ({runs})")
    print(f"ratio: {best_ours / best_base:.2f}x  (target >= 0.60x)")


if __name__ == "__main__":
    main()
