"""``mailvault serve``: refuses to start without a usable public URL (outside demo mode), and
runs the purge on its schedule unless told ``--no-purge``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_canary import _free_port
from tests.cli.test_commands import assert_clean_error, mailvault
from tests.conftest import REPO


def test_no_public_url_is_a_startup_error(cli_env: dict[str, str]) -> None:
    unset = {k: v for k, v in cli_env.items() if k != "MAILVAULT_PUBLIC_URL"}
    result = mailvault(unset, "serve", "--port", "1")
    assert_clean_error(result, "no public URL for unsubscribe links")
    assert result.returncode == 2
    plain = mailvault(cli_env | {"MAILVAULT_PUBLIC_URL": "http://lists.example.com"}, "serve")
    assert_clean_error(plain, "must be an https:// URL")


def test_a_bad_retention_table_is_a_startup_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "mailvault.toml"
    config.write_text("[retention]\nforever = 1\n")
    result = mailvault(cli_env | {"MAILVAULT_CONFIG": str(config)}, "serve", "--port", "1")
    assert_clean_error(result, "unknown [retention] setting")


def _serve_briefly(env: dict[str, str], log: Path, *flags: str) -> str:
    port = _free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "vault", "serve", "--port", str(port), *flags],
            env=env,
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return log.read_text()


@pytest.mark.slow
def test_the_schedule_runs_unless_no_purge(cli_env: dict[str, str], tmp_path: Path) -> None:
    scheduled = _serve_briefly(cli_env, tmp_path / "a.log")
    assert "purge scheduled every 24 h" in scheduled
    without = _serve_briefly(cli_env, tmp_path / "b.log", "--no-purge")
    assert "purge" not in without
