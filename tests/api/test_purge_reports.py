"""``GET /v1/reports/purges`` (compliance): the purge reports as JSON, CSV or a self-contained
HTML page, from a date; counts and dates only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from vault.clock import FixedClock
from vault.principals.permissions import Role
from vault.retention.purge import run_purge
from vault.retention.reports import CSV_HEADER
from vault.retention.rules import retention_config
from vault.store import Vault


def two_runs(store: Vault, clock: FixedClock) -> None:
    config = retention_config(store.settings, environ={})
    run_purge(store, config, dry_run=True)
    clock.advance(timedelta(days=2))
    run_purge(store, config)


def test_json_is_the_default_and_since_filters(as_role, store: Vault, clock: FixedClock) -> None:
    two_runs(store, clock)
    compliance = as_role(Role.COMPLIANCE)
    everything = compliance.get("/v1/reports/purges")
    assert everything.status_code == 200
    assert everything.headers["content-type"] == "application/json"
    runs = everything.json()
    assert [r["dry_run"] for r in runs] == [True, False]
    classes = {c["record_class"] for c in runs[1]["classes"]}
    assert {"delivery_outcome", "bounce_state"} <= classes
    since = (clock.now() - timedelta(days=1)).date().isoformat()
    later = compliance.get(f"/v1/reports/purges?since={since}&format=json").json()
    assert len(later) == 1 and later[0]["run_id"] == runs[1]["run_id"]


def test_csv_and_html(as_role, store: Vault, clock: FixedClock) -> None:
    two_runs(store, clock)
    compliance = as_role(Role.COMPLIANCE)
    as_csv = compliance.get("/v1/reports/purges?format=csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == CSV_HEADER and len(rows) > 2
    page = compliance.get("/v1/reports/purges?format=html")
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "mailvault purge report" in page.text and "<script" not in page.text
    # Which store, not where: no host, user or path in the label.
    assert "postgresql" not in page.text and "/" + "tmp" not in page.text


def test_bad_parameters_are_422(as_role) -> None:
    compliance = as_role(Role.COMPLIANCE)
    assert compliance.get("/v1/reports/purges?since=yesterday").status_code == 422
    assert compliance.get("/v1/reports/purges?format=pdf").status_code == 422


def test_only_compliance_reads_purge_reports(as_role) -> None:
    for role in (Role.MARKETING, Role.SENDER, Role.SUPPORT, Role.ADMIN):
        assert as_role(role).get("/v1/reports/purges").status_code == 403
