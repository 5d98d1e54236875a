"""Purge reports in every format, and the HTML page as a browser renders it."""

import csv
import io
import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.canary import CANARY, assert_absent
from vault.clock import FixedClock
from vault.config import Settings
from vault.retention.purge import run_purge
from vault.retention.reports import CSV_HEADER, purge_reports, to_csv, to_html, to_json
from vault.retention.rules import retention_config
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def reports(store: Vault, clock: FixedClock):
    config = retention_config(Settings(), environ={})
    store.create_list("news")
    store.subscribe(CANARY, list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t")
    store.subscribe(
        "b@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.unsubscribe(CANARY, list_name="news", source="link")
    run_purge(store, config, dry_run=True)
    clock.advance(timedelta(days=31))
    run_purge(store, config)
    clock.advance(timedelta(days=1))
    run_purge(store, config)
    with store.read() as session:
        return purge_reports(session)


def test_json_and_csv(reports) -> None:
    document = json.loads(to_json(reports))
    assert [r["dry_run"] for r in document] == [True, False, False]
    assert [r["total_removed"] for r in document] == [0, 1, 0]
    assert all(r["audit_entry"]["seq"] for r in document)
    rows = list(csv.reader(io.StringIO(to_csv(reports))))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 1 + 3 * len(reports[0].classes)


def test_reports_hold_no_addresses(reports) -> None:
    for text in (to_json(reports), to_csv(reports)):
        assert_absent(text, "a purge report")
        assert "@" not in text


def test_since_filters_runs(store: Vault, reports, clock: FixedClock) -> None:
    with store.read() as session:
        later = purge_reports(session, since=clock.now() - timedelta(hours=1))
    assert len(later) == 1


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_in_headless_chromium(reports, clock: FixedClock, tmp_path: Path) -> None:
    page = to_html(reports, generated_at=clock.now(), store_label="test store")
    assert_absent(page, "the HTML report")
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1]  # self-contained
    browser = _chromium()
    if browser is None:
        if IN_CI:
            pytest.fail("chromium is not installed; .ci/install-system-packages installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "mailvault purge report" in dom.stdout
    assert dom.stdout.count('<section class="run"') == 3
    assert "<rect" in dom.stdout
    shot = tmp_path / "report.png"
    picture = subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1000,1400", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert picture.returncode == 0, picture.stderr[-2000:]
    assert shot.stat().st_size > 10_000
