"""The baseline: a trivial FastAPI endpoint (same request shape, constant answer), served by
uvicorn exactly as ``mailvault serve`` serves the API (same log config, access log on)."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vault.api.logging import log_config

app = FastAPI()


class Check(BaseModel):
    addresses: builtins.list[str]
    list: str | None = None


@app.post("/v1/suppressions/check")
def check(body: Check) -> dict[str, object]:
    return {
        "results": [
            {"address": a, "suppressed": False, "reason": None, "scope": None}
            for a in body.addresses
        ]
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=log_config())
