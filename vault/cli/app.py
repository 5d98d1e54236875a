"""Command-line entry: global options, and the commands of the core store.

Every command opens the store named by the settings (``--config``, environment, defaults), so
several stores can live side by side in different directories.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from vault.addresses import Address, parse_address
from vault.check_json import answer_writer
from vault.cli.console import err, fail, out, progress_bar
from vault.cli.context import State, open_store, state
from vault.cli.keys import create_keyring_from_settings, keys_app
from vault.config import Settings, load_settings
from vault.db import make_engine
from vault.db.migrate import upgrade
from vault.errors import InputError, InvalidAddress, MailvaultError
from vault.keys import services as key_services
from vault.store import CheckAnswer, open_keyring_from_settings
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import SuppressionReason

app = typer.Typer(
    name="mailvault",
    help="A privacy-preserving subscriber and suppression store for email senders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
lists_app = typer.Typer(help="Mailing lists.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")  # vault/cli/keys.py
app.add_typer(lists_app, name="lists")
app.add_typer(audit_app, name="audit")

BATCH = 2000


# Kept under their old names for the command modules written against them.
_state = state
_vault = open_store


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="A TOML settings file.", dir_okay=False)
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the example keys (public: for demos only).")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides MAILVAULT_DATABASE_URL.")
    ] = None,
    keys_dir: Annotated[
        Path | None, typer.Option("--keys-dir", help="Overrides MAILVAULT_KEYS_DIR.")
    ] = None,
) -> None:
    ctx.obj = State(
        load_settings(
            config_file=config, demo=demo or None, database_url=database_url, keys_dir=keys_dir
        )
    )


# -- setup -------------------------------------------------------------------------------------
@app.command()
def init(ctx: typer.Context) -> None:
    """Create the keyring (unless it exists) and bring the database schema up to date."""
    settings = _state(ctx).settings
    if not (settings.keys_dir / "keyring.json").exists():
        create_keyring_from_settings(settings)
    open_keyring_from_settings(settings)  # refuses a wrong KEK before touching the database
    _upgrade(settings)
    out.print(f"store ready: database {_safe_url(settings)}, keys in {settings.keys_dir}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration."""
    settings = _state(ctx).settings
    _upgrade(settings)
    out.print(f"database {_safe_url(settings)} is at the latest schema")


def _upgrade(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _safe_url(settings: Settings) -> str:
    return make_engine(settings.database_url).url.render_as_string(hide_password=True)


# -- lists -------------------------------------------------------------------------------------
@lists_app.command("create")
def lists_create(
    ctx: typer.Context,
    name: str,
    own_key: Annotated[
        bool,
        typer.Option("--own-key", help="Seal its local parts under a key of its own (shredding)."),
    ] = False,
) -> None:
    """Create a mailing list."""
    with _vault(ctx) as store:
        created = key_services.create_list(store, name, own_key=own_key)
    extra = f", own key {created.own_key_id:08x}" if created.own_key_id is not None else ""
    out.print(f"created list {created.name} ({created.id}{extra})")


@lists_app.command("delete")
def lists_delete(
    ctx: typer.Context,
    name: str,
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="The list's name again, to confirm.")
    ] = None,
) -> None:
    """Delete a list and its subscribers (their suppressions stay). A list with its own key has
    the key destroyed: its local parts become unreadable, in backups too."""
    if confirm is None and sys.stdin.isatty():
        confirm = typer.prompt(f"Type the list's name ({name}) to delete it and its subscribers")
    if confirm != name:
        raise InputError(f"not deleted: confirm with --confirm {name!r}")
    with _vault(ctx) as store:
        deleted = key_services.delete_list(store, name)
    shredded = (
        f"; its own key {deleted.key_destroyed.id:08x} is destroyed"
        if deleted.key_destroyed
        else ""
    )
    out.print(f"deleted list {name} and {deleted.subscribers} subscriber(s){shredded}")


@lists_app.command("list")
def lists_list(ctx: typer.Context) -> None:
    """Lists with their subscriber counts."""
    with _vault(ctx) as store:
        table = Table("name", "id", "subscribed", "created")
        for mailing_list in store.lists():
            count = sum(n for _, n in store.domain_counts(list_name=mailing_list.name))
            table.add_row(
                mailing_list.name,
                str(mailing_list.id),
                str(count),
                mailing_list.created_at.strftime("%Y-%m-%d"),
            )
    out.print(table)


# -- subscribers -------------------------------------------------------------------------------
ConsentOption = Annotated[
    ConsentMethod, typer.Option("--consent", help="How consent was given.", case_sensitive=False)
]


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV file with an 'email' column.")],
    list_name: Annotated[str, typer.Option("--list", help="The list to import into.")],
    consent: ConsentOption,
    source: Annotated[str, typer.Option("--source", help="Where consent came from (evidence).")],
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Where to list invalid rows (line, reason).")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=50000)] = BATCH,
) -> None:
    """Import a CSV list. Resumes an interrupted import of the same file when run again."""
    with _vault(ctx) as store:
        from vault.subscribers.importer import validate_file

        total = validate_file(file)
        with progress_bar("importing", total) as advance:
            summary = store.import_csv(
                file,
                list_name=list_name,
                consent=consent,
                source=source,
                rejects_path=rejects,
                batch_size=batch,
                progress=advance,
            )
    if summary.resumed_from_line:
        out.print(f"resumed after line {summary.resumed_from_line}")
    out.print(
        f"imported {summary.imported}, duplicates {summary.duplicates}, "
        f"suppressed (skipped) {summary.suppressed}, invalid {summary.invalid}"
    )
    if summary.rejects_file:
        out.print(f"invalid rows (line and reason) are listed in {summary.rejects_file}")


@app.command()
def subscribe(
    ctx: typer.Context,
    address: str,
    list_name: Annotated[str, typer.Option("--list")],
    consent: ConsentOption,
    source: Annotated[str, typer.Option("--source")] = "cli",
) -> None:
    """Subscribe one address to a list, recording its consent."""
    with _vault(ctx) as store:
        result = store.subscribe(address, list_name=list_name, consent=consent, source=source)
    if result.outcome == "suppressed":
        fail(
            f"not subscribed: the address is suppressed ({result.reason}); "
            "only fresh double opt-in lifts an unsubscribe or erasure"
        )
        raise typer.Exit(1)
    extra = f", {result.lifted} suppression(s) lifted by re-consent" if result.lifted else ""
    out.print(f"{result.outcome}: subscriber {result.subscriber_id}{extra}")


@app.command()
def unsubscribe(
    ctx: typer.Context,
    address: str,
    list_name: Annotated[str, typer.Option("--list")],
    source: Annotated[str, typer.Option("--source")] = "cli",
) -> None:
    """Unsubscribe an address from a list; it stays suppressed for that list."""
    with _vault(ctx) as store:
        found = store.unsubscribe(address, list_name=list_name, source=source)
    out.print("unsubscribed" if found else "not on the list; suppressed for it all the same")


@app.command()
def erase(
    ctx: typer.Context,
    address: str,
    source: Annotated[str, typer.Option("--source", help="The request's reference.")] = "cli",
) -> None:
    """Erase a data subject everywhere; an erasure suppression keeps them from being mailed."""
    with _vault(ctx) as store:
        result = store.erase(address, source=source)
    out.print(
        f"erased from {len(result.lists)} list(s) ({result.subscribers_removed} record(s)); "
        "erasure suppression in place"
    )


@app.command("subject-access")
def subject_access(ctx: typer.Context, address: str) -> None:
    """Everything held about one address, as JSON (for a data subject's access request)."""
    with _vault(ctx) as store:
        answer = store.subject_access(address)
    sys.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")


@app.command()
def domains(
    ctx: typer.Context, list_name: Annotated[str | None, typer.Option("--list")] = None
) -> None:
    """Subscribed addresses per domain (no local parts, nothing decrypted)."""
    with _vault(ctx) as store:
        counts = store.domain_counts(list_name=list_name)
    table = Table("domain", "subscribers")
    for domain, count in counts:
        table.add_row(domain, str(count))
    out.print(table)


# -- suppressions ------------------------------------------------------------------------------
def _read_inputs(addresses: list[str], file: str | None) -> Iterator[tuple[int, str]]:
    """(line number, raw address) from arguments, then from a file or stdin, streaming.

    A file is one address per line, or a CSV whose header has an ``email`` column.
    """
    yield from enumerate(addresses, start=1)
    if file is None:
        return
    if file == "-":
        handle: io.TextIOBase = io.TextIOWrapper(
            sys.stdin.buffer, encoding="utf-8-sig", errors="strict"
        )
        name = "standard input"
    else:
        try:
            handle = open(file, encoding="utf-8-sig", errors="strict", newline="")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
        name = file
    try:
        with handle:
            first = handle.readline()
            header = [h.strip().lower() for h in first.rstrip("\r\n").split(",")]
            if "email" in header and "@" not in first:
                column = header.index("email")
                reader = csv.reader(handle, strict=True)
                for row in reader:
                    if row:
                        yield reader.line_num + 1, row[column] if column < len(row) else ""
                return
            line_number = 1
            for line in (first, *handle) if first else ():
                if line.strip():
                    yield line_number, line.strip()
                line_number += 1
    except UnicodeDecodeError:
        raise InputError(f"{name} is not valid UTF-8") from None
    except csv.Error as exc:
        raise InputError(f"{name} has a broken CSV row: {exc}") from None


def _chunks(items: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse_expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    relative = re.fullmatch(r"(\d+)d", text.strip())
    if relative:
        return datetime.now(UTC) + timedelta(days=int(relative.group(1)))
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "--expires takes a date (2027-01-31), a time (ISO 8601) or days (30d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def suppress(
    ctx: typer.Context,
    addresses: Annotated[list[str] | None, typer.Argument(help="Addresses to suppress.")] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", help="One address per line or a CSV with 'email'; - is stdin."),
    ] = None,
    reason: Annotated[SuppressionReason, typer.Option("--reason", case_sensitive=False)] = (
        SuppressionReason.MANUAL
    ),
    list_name: Annotated[str | None, typer.Option("--list", help="Only for this list.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Date, time or 30d.")] = None,
    source: Annotated[str, typer.Option("--source")] = "cli",
) -> None:
    """Suppress addresses (bulk from a file or stdin, streaming). Exit 1 if any line was invalid;
    the valid ones are suppressed all the same."""
    if not addresses and file is None:
        raise InputError("give addresses, or --file FILE (- for standard input)")
    expires_at = _parse_expiry(expires)
    added = already = 0
    invalid: list[tuple[int, str]] = []
    with _vault(ctx) as store, progress_bar("suppressing", None) as advance:
        for chunk in _chunks(_read_inputs(addresses or [], file), BATCH):
            parsed: list[Address] = []
            for line, raw in chunk:
                try:
                    parsed.append(parse_address(raw))
                except InvalidAddress as exc:
                    invalid.append((line, str(exc)))
            if parsed:
                outcome = store.suppress(
                    parsed, reason=reason, source=source, list_name=list_name, expires_at=expires_at
                )
                added += outcome.added
                already += outcome.already
            advance(len(chunk))
    out.print(f"suppressed {added} new, {already} already suppressed, {len(invalid)} invalid")
    for line, problem in invalid[:20]:
        err.print(f"line {line}: {problem}")
    if len(invalid) > 20:
        err.print(f"... and {len(invalid) - 20} more invalid lines")
    if invalid:
        raise typer.Exit(1)


@app.command()
def check(
    ctx: typer.Context,
    addresses: Annotated[list[str] | None, typer.Argument(help="Addresses to check.")] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="One address per line; - is stdin.")
    ] = None,
    list_name: Annotated[
        str | None, typer.Option("--list", help="Also count this list's suppressions.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Is an address suppressed? Without --list only global suppressions count. With --file,
    plain output is one tab-separated line per address (address, yes/no/invalid: ..., reason,
    scope), streamed, since a table of millions of rows would be held in memory."""
    if not addresses and file is None:
        raise InputError("give addresses, or --file FILE (- for standard input)")
    table = (
        None if as_json or file is not None else Table("address", "suppressed", "reason", "scope")
    )
    with _vault(ctx) as store:
        if file is None:
            answers: Iterable[CheckAnswer] = store.check(addresses or [], list_name=list_name)
        else:
            # A file may hold millions of addresses: one pass over the suppression list into
            # memory, then every address is checked there instead of in database round trips.
            snapshot = store.load_snapshot()
            answers = store.check_against(
                snapshot,
                (raw for _, raw in _read_inputs(addresses or [], file)),
                list_name=list_name,
            )
        write = sys.stdout.write
        # The line json.dumps would print, written directly: on a file of millions of addresses
        # json.dumps per line cost about as much as checking the address.
        line = answer_writer(compact=False)
        for answer in answers:
            if as_json:
                write(line(answer) + "\n")
                continue
            state = (
                "invalid: " + answer.error
                if answer.error
                else ("yes" if answer.suppressed else "no")
            )
            if table is None:
                # Tabs and newlines cannot stand in an address that parsed; an invalid input
                # line is shown with them replaced, so that every answer stays one line.
                shown = answer.address.replace("\t", " ").replace("\n", " ")
                write(f"{shown}\t{state}\t{answer.reason or ''}\t{answer.scope or ''}\n")
            else:
                table.add_row(answer.address, state, answer.reason or "", answer.scope or "")
    if table is not None:
        out.print(table)


# -- audit -------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Walk the hash chain; name the first entry that was edited, removed or reordered."""
    with _vault(ctx) as store:
        report = store.verify_audit()
    if report.ok:
        out.print(report.describe())
        return
    fail(report.describe())
    raise typer.Exit(9)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Create a demo store with the example keys and walk through the main job."""
    from vault.cli.demo import run_demo

    run_demo(_state(ctx).settings)


# -- further areas -----------------------------------------------------------------------------
from vault.cli.retention import purge, report_app, retention_app  # noqa: E402

app.add_typer(retention_app, name="retention")
app.add_typer(report_app, name="report")
app.command("purge")(purge)


# -- plumbing ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> NoReturn:
    try:
        result = app(args=argv, prog_name="mailvault", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("aborted")
        sys.exit(130)
    except typer.TyperException as exc:
        # Typer's own usage errors (a bad option value, a missing argument): the usage line and
        # the problem, never a traceback. They are the vendored click's exceptions underneath.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            fail(str(exc))
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except MailvaultError as exc:
        fail(str(exc))
        sys.exit(exc.exit_code)
    except OperationalError as exc:
        fail(f"cannot use the database: {_db_reason(exc)}")
        sys.exit(10)
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}")
        sys.exit(10)
    except KeyboardInterrupt:
        fail("interrupted; committed batches are kept and the same command resumes")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _db_reason(exc: OperationalError) -> str:
    # The driver's first line says what went wrong (refused, no such file...) without the
    # statement or its parameters, which could hold digests.
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return text[:300]


# -- further areas -----------------------------------------------------------------------------
from vault.cli.principals import principals_app  # noqa: E402 - they import this module's helpers
from vault.cli.serve import serve  # noqa: E402

app.add_typer(principals_app, name="principals")
app.command("serve")(serve)

from vault.cli import ingest as _ingest  # noqa: E402, F401 - registers `mailvault ingest`
from vault.cli import policy as _policy  # noqa: E402, F401 - registers `mailvault policy-server`
