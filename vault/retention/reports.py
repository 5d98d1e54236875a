"""Purge reports: one record per run, rendered as a table, JSON, CSV or a self-contained HTML
page an auditor can open or print. Reports hold counts and dates, never addresses or digests."""

from __future__ import annotations

import csv
import html
import io
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.audit.models import AuditEntry
from vault.retention.models import PurgeRun


@dataclass(frozen=True)
class ClassLine:
    record_class: str
    rule_days: int | None
    removed: int
    oldest_remaining: datetime | None


@dataclass(frozen=True)
class PurgeReport:
    run_id: str
    dry_run: bool
    status: str
    started_at: datetime
    finished_at: datetime | None
    as_of: datetime
    trigger: str
    audit_entry_id: str | None
    audit_seq: int | None
    classes: list[ClassLine]

    @property
    def total_removed(self) -> int:
        return sum(line.removed for line in self.classes)

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "as_of": self.as_of.isoformat(),
            "trigger": self.trigger,
            "audit_entry": {"id": self.audit_entry_id, "seq": self.audit_seq},
            "classes": [
                {
                    "record_class": line.record_class,
                    "rule_days": line.rule_days,
                    "removed": line.removed,
                    "oldest_remaining": line.oldest_remaining.isoformat()
                    if line.oldest_remaining
                    else None,
                }
                for line in self.classes
            ],
            "total_removed": self.total_removed,
        }


def purge_reports(session: Session, *, since: datetime | None = None) -> list[PurgeReport]:
    statement = select(PurgeRun).order_by(PurgeRun.started_at)
    if since is not None:
        statement = statement.where(PurgeRun.started_at >= since)
    runs = list(session.scalars(statement))
    entry_ids = [r.audit_entry_id for r in runs if r.audit_entry_id]
    seqs: dict[uuid.UUID, int] = {}
    if entry_ids:
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.seq).where(AuditEntry.id.in_(entry_ids))
        )
        seqs = {row.id: row.seq for row in rows}
    return [
        PurgeReport(
            run_id=str(run.id),
            dry_run=run.dry_run,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            as_of=run.as_of,
            trigger=run.trigger,
            audit_entry_id=str(run.audit_entry_id) if run.audit_entry_id else None,
            audit_seq=seqs.get(run.audit_entry_id) if run.audit_entry_id else None,
            classes=[
                ClassLine(
                    c.record_class, run.rules.get(c.record_class), c.removed, c.oldest_remaining
                )
                for c in run.classes
            ],
        )
        for run in runs
    ]


def to_json(reports: list[PurgeReport]) -> str:
    return json.dumps([r.as_dict() for r in reports], indent=2)


CSV_HEADER = [
    "run_id",
    "dry_run",
    "started_at",
    "finished_at",
    "as_of",
    "record_class",
    "rule_days",
    "removed",
    "oldest_remaining",
    "audit_entry_id",
    "audit_seq",
]


def to_csv(reports: list[PurgeReport]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for report in reports:
        for line in report.classes:
            writer.writerow(
                [
                    report.run_id,
                    report.dry_run,
                    report.started_at.isoformat(),
                    report.finished_at.isoformat() if report.finished_at else "",
                    report.as_of.isoformat(),
                    line.record_class,
                    "" if line.rule_days is None else line.rule_days,
                    line.removed,
                    line.oldest_remaining.isoformat() if line.oldest_remaining else "",
                    report.audit_entry_id or "",
                    report.audit_seq or "",
                ]
            )
    return buffer.getvalue()


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _chart(reports: list[PurgeReport]) -> str:
    """Removals per run over time as inline SVG bars: no script, no external resource."""
    real = [r for r in reports if not r.dry_run]
    if not real:
        return "<p class=muted>No purge has removed anything yet.</p>"
    width, height, pad = 720, 220, 40
    peak = max(r.total_removed for r in real) or 1
    slot = (width - 2 * pad) / len(real)
    bars = []
    for i, report in enumerate(real):
        bar_height = (height - 2 * pad) * report.total_removed / peak
        x = pad + i * slot + slot * 0.15
        y = height - pad - bar_height
        label = html.escape(report.started_at.strftime("%Y-%m-%d %H:%M"))
        middle = x + slot * 0.35
        total = report.total_removed
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar_height:.1f}">'
            f"<title>{label}: {total} removed</title></rect>"
            f'<text x="{middle:.1f}" y="{height - pad + 14}" class="axis">{label}</text>'
            f'<text x="{middle:.1f}" y="{y - 4:.1f}" class="value">{total}</text>'
        )
    return (
        '<svg role="img" aria-label="Records removed per purge run" '
        f'viewBox="0 0 {width} {height}" width="100%" height="{height}">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'class="base"/>{"".join(bars)}</svg>'
    )


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d232a}
h1{font-size:1.5rem;margin:0 0 .25rem} h2{font-size:1.1rem;margin:2rem 0 .5rem}
.muted{color:#5b6672} table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #c9d1d9;padding:.35rem .6rem;text-align:left}
th{background:#f2f4f7} td.n{text-align:right;font-variant-numeric:tabular-nums}
.dry{display:inline-block;background:#fff3cd;border:1px solid #e0c36b;padding:0 .4rem}
svg rect{fill:#3b6ea8} svg .base{stroke:#5b6672}
svg text{font-size:10px;text-anchor:middle;fill:#1d232a}
@media print{body{margin:1cm} .run{page-break-inside:avoid}}
"""


def to_html(reports: list[PurgeReport], *, generated_at: datetime, store_label: str) -> str:
    sections = []
    for report in reversed(reports):
        rows = "".join(
            f"<tr><td>{html.escape(line.record_class)}</td>"
            f"<td class=n>{'' if line.rule_days is None else line.rule_days}</td>"
            f"<td class=n>{line.removed}</td><td>{_day(line.oldest_remaining)}</td></tr>"
            for line in report.classes
        )
        badge = " <span class=dry>dry run: nothing removed</span>" if report.dry_run else ""
        if report.audit_entry_id is None:
            audit_ref = "no audit entry yet (run not finished)"
        elif report.audit_seq is None:
            audit_ref = (
                f"audit entry <code>{html.escape(report.audit_entry_id)}</code>, since removed "
                "under the audit retention rule"
            )
        else:
            entry_id = html.escape(report.audit_entry_id)
            audit_ref = f"audit entry #{report.audit_seq} (<code>{entry_id}</code>)"
        sections.append(
            f'<section class="run" id="run-{html.escape(report.run_id)}">'
            f"<h2>Run of {_day(report.started_at)}{badge}</h2>"
            f"<p class=muted>Rules applied as of {_day(report.as_of)}; finished "
            f"{_day(report.finished_at)}; started by {html.escape(report.trigger)}; "
            f"{audit_ref}.</p>"
            "<table><thead><tr><th>record class</th><th>kept (days)</th>"
            "<th>removed" + (" (would be)" if report.dry_run else "") + "</th>"
            "<th>oldest remaining</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )
    body = "".join(sections) or "<p>No purge runs in this period.</p>"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>mailvault purge report</title><style>{_STYLE}</style></head><body>"
        "<h1>mailvault purge report</h1>"
        f"<p class=muted>{html.escape(store_label)} · generated {_day(generated_at)} · "
        f"{len(reports)} run(s). Counts and dates only: reports hold no addresses.</p>"
        f"<h2>Records removed per run</h2>{_chart(reports)}{body}</body></html>"
    )
