"""``mailvault ingest``: bounces and complaints from files, mboxes, Maildirs or standard input.

A real run applies SPEC §5 against the store and prints counts; ``--dry-run`` opens no store
and prints what each message says. When the store cannot be reached the command exits 75
(EX_TEMPFAIL), so a Postfix pipe keeps the message and tries again later instead of losing it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from vault.bounces import ParsedMessage, base_action, iter_messages
from vault.cli.app import _db_reason, _vault, app
from vault.cli.console import err, fail, out, progress_bar
from vault.deliveries.ingest import DEFAULT_BATCH, IngestSummary
from vault.deliveries.parsing import default_workers, parse_in_order
from vault.errors import ConfigError, InputError, KeyringError, ParserStopped

#: sysexits.h EX_TEMPFAIL: Postfix's pipe and local delivery agents defer the message and retry.
EX_TEMPFAIL = 75
ACTIONS = ("suppress", "confirm", "count", "domain", "ignore")
T = TypeVar("T")


@dataclass
class _Sources:
    """The messages of every source in turn, remembering where each source starts, so that a
    problem at overall position N can be named as message n of a file."""

    names: list[str]
    starts: list[int] = field(default_factory=list)

    def messages(self) -> Iterator[bytes]:
        position = 0
        for name in self.names:
            self.starts.append(position)
            for raw in iter_messages(name):
                position += 1
                yield raw

    def locate(self, position: int) -> str:
        index = max(i for i, start in enumerate(self.starts) if start < position)
        return f"{self.names[index]}: message {position - self.starts[index]}"


@app.command()
def ingest(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files holding one message or an mbox, Maildir folders, or - (standard input).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Store nothing and open no store; say what each message reports. The action "
            "shown is the base action: confirm and count resolve against stored state (a "
            "second hard bounce on another day, N soft bounces in a window) only in a real run.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With --dry-run: one JSON object per bounced recipient (file, recipient, "
            "status, reason, action), or {file, action: none} for a file without a bounce. "
            "Otherwise: the run's counts as one JSON object.",
        ),
    ] = False,
    list_name: Annotated[
        str | None, typer.Option("--list", help="The list these messages were sent to, if one.")
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=50000, help="Messages per transaction.")
    ] = DEFAULT_BATCH,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes that parse messages while this one stores them, in input order "
            "(default: one per CPU, at most 4; 1 parses here). Input of fewer than 64 "
            "messages, such as one message from a Postfix pipe, starts none.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Read bounces (RFC 3464 and common formats) and complaints (ARF); suppress, confirm,
    count or record them against the domain as SPEC §5 says. Malformed messages are counted
    and named by position; they never stop the run."""
    if not sources:
        raise InputError("give FILE, a Maildir folder or - (standard input); see --help")
    for source in sources:
        if source != "-" and not Path(source).exists():
            raise InputError(f"{source} does not exist")
    workers = workers or default_workers()
    if dry_run:
        _dry_run(sources, as_json=as_json, workers=workers)
        return
    feed = _Sources(list(sources))
    try:
        with _vault(ctx) as store, progress_bar("ingesting", None) as advance:
            summary = store.ingest(
                feed.messages(),
                origin="cli",
                list_name=list_name,
                batch_size=batch,
                progress=advance,
                workers=workers,
            )
    except ParserStopped as exc:
        fail(
            f"{feed.locate(exc.position)}: a parser process stopped before this message; "
            "every message before it was stored, none from it on"
        )
        raise typer.Exit(exc.exit_code) from None
    except (SQLAlchemyError, ConfigError, KeyringError) as exc:
        if isinstance(exc, OperationalError):
            reason = _db_reason(exc)
        else:
            reason = type(exc).__name__ if isinstance(exc, SQLAlchemyError) else str(exc)
        fail(f"the store is unavailable ({reason}); nothing after the last batch was stored")
        raise typer.Exit(EX_TEMPFAIL) from None
    _print_summary(summary, feed, as_json=as_json)


def _print_summary(summary: IngestSummary, feed: _Sources, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"run_id": str(summary.run_id), **summary.counts()}) + "\n")
    else:
        tally = summary.tally
        out.print(
            f"{summary.messages} message(s): {summary.with_reports} with reports, "
            f"{summary.without_bounce} without a bounce, {summary.unreadable} unreadable"
        )
        out.print("recipients by action: " + _counts(tally.by_action, ACTIONS))
        out.print(
            "done: "
            + _counts(tally.by_taken, ("suppressed", "pending", "counted", "domain", "reset"))
        )
        added = ", ".join(f"{k} {v}" for k, v in sorted(tally.suppressions_added.items()))
        out.print(f"new suppressions: {added or 'none'}")
    for position, problem in summary.problems[:20]:
        err.print(f"{feed.locate(position)}: {problem}")
    if len(summary.problems) > 20:
        err.print(f"... and {len(summary.problems) - 20} more")


def _counts(counter: Counter[str], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {counter.get(name, 0)}" for name in names)


def _dry_run(sources: list[str], *, as_json: bool, workers: int) -> None:
    write = sys.stdout.write
    totals: Counter[str] = Counter()
    messages = 0
    for source in sources:
        found = False
        parsed = parse_in_order(iter_messages(source), workers=workers)
        try:
            for position, one in _numbered(parsed):
                messages += 1
                if one.unreadable is not None:
                    err.print(f"{source}: message {abs(position)}: unreadable: {one.unreadable}")
                    continue
                for record in _records(one.message):
                    found = True
                    totals[record["action"]] += 1
                    if as_json:
                        # A message inside an mbox or a Maildir is also named by position.
                        where = {"file": source} | ({"message": position} if position > 0 else {})
                        write(json.dumps(where | record, ensure_ascii=False) + "\n")
        except ParserStopped as exc:
            fail(f"{source}: message {exc.position}: a parser process stopped before it")
            raise typer.Exit(exc.exit_code) from None
        if not found and as_json:
            write(json.dumps({"file": source, "action": "none"}) + "\n")
    if not as_json:
        out.print(
            f"dry run, nothing stored: {messages} message(s), {sum(totals.values())} "
            f"bounced recipient(s): {_counts(totals, ACTIONS)}"
        )


def _records(parsed: ParsedMessage) -> Iterator[dict[str, Any]]:
    for recipient in parsed.recipients:
        yield {
            "recipient": recipient.recipient,
            "status": recipient.status,
            "reason": recipient.reason.value,
            "action": base_action(recipient.reason, recipient.domain).value,
        }


def _numbered(messages: Iterator[T]) -> Iterator[tuple[int, T]]:
    """Positions from 1, given as -1 when the source turns out to hold one message only."""
    first = next(messages, None)
    if first is None:
        return
    second = next(messages, None)
    if second is None:
        yield -1, first
        return
    yield 1, first
    yield 2, second
    yield from enumerate(messages, start=3)
