"""Retention commands: the rules in force, purges, and purge reports."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vault.cli.console import out, progress_bar
from vault.cli.context import open_store, state
from vault.errors import InputError
from vault.retention.purge import run_purge
from vault.retention.reports import purge_reports, to_csv, to_html, to_json
from vault.retention.rules import retention_config

retention_app = typer.Typer(help="Retention rules.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for compliance.", no_args_is_help=True)


@retention_app.command("show")
def retention_show(ctx: typer.Context) -> None:
    """The rules in force and how many records each would remove now."""
    config = retention_config(state(ctx).settings)
    with open_store(ctx) as store, store.read() as session:
        now = store.now()
        table = Table("record class", "kept (days)", "would remove now", "what it is")
        for rule in config.rules:
            count = rule.record_class.count_expired(session, cutoff=rule.cutoff(now))
            table.add_row(
                rule.record_class.name, str(rule.days), str(count), rule.record_class.description
            )
    out.print(table)
    out.print(
        f"purge runs every {config.purge_interval_hours:g} h under `mailvault serve`, "
        f"{config.batch_size} records a batch"
    )


def purge(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; remove nothing.")] = False,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Records a transaction.")
    ] = None,
) -> None:
    """Apply every retention rule in batches; resumes an interrupted run."""
    config = retention_config(state(ctx).settings)
    if batch_size is not None:
        config = replace(config, batch_size=batch_size)
    with open_store(ctx) as store:
        with progress_bar("purging", None) as advance:
            run_id = run_purge(
                store, config, dry_run=dry_run, trigger=store.actor.name, progress=advance
            )
        with store.read() as session:
            report = next(r for r in purge_reports(session) if r.run_id == str(run_id))
    verb = "would remove" if dry_run else "removed"
    for line in report.classes:
        out.print(f"{line.record_class}: {verb} {line.removed}")
    out.print(f"run {report.run_id}; audit entry #{report.audit_seq}")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError("--since takes a date like 2026-01-31") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@report_app.command("purges")
def report_purges(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Runs from this date.")] = None,
    format_: Annotated[str, typer.Option("--format", help="table, json, csv or html.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
) -> None:
    """Every purge run: when, which rules, how many removed per class, oldest remaining."""
    if format_ not in ("table", "json", "csv", "html"):
        raise InputError("--format is one of table, json, csv, html")
    with open_store(ctx) as store, store.read() as session:
        reports = purge_reports(session, since=_since(since))
        label = store.engine.url.render_as_string(hide_password=True)
        generated = store.now()
    if format_ == "table":
        table = Table(
            "started",
            "dry run",
            "record class",
            "kept (days)",
            "removed",
            "oldest remaining",
            "audit #",
        )
        for report in reports:
            for line in report.classes:
                table.add_row(
                    report.started_at.strftime("%Y-%m-%d %H:%M"),
                    "yes" if report.dry_run else "",
                    line.record_class,
                    str(line.rule_days),
                    str(line.removed),
                    line.oldest_remaining.strftime("%Y-%m-%d") if line.oldest_remaining else "",
                    str(report.audit_seq or ""),
                )
        out.print(table)
        return
    text = {
        "json": lambda: to_json(reports),
        "csv": lambda: to_csv(reports),
        "html": lambda: to_html(reports, generated_at=generated, store_label=label),
    }[format_]()
    if output is not None:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
