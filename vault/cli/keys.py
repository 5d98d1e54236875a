"""``mailvault keys …``: create and list the keyring, and its lifecycle (rotate, rewrap, status,
retire, rekey). The work happens in ``vault.keys``; this module asks, confirms and prints.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vault.cli.console import err, out, progress_bar
from vault.config import Settings
from vault.crypto import (
    Kek,
    Key,
    Keyring,
    Purpose,
    create_keyring,
    generate_kek_file,
)
from vault.errors import Conflict, InputError, MailvaultError
from vault.keys import services
from vault.keys.rewrap import DEFAULT_BATCH, REWRAP_PURPOSES
from vault.store import Vault, kek_from_settings, open_keyring_from_settings

keys_app = typer.Typer(help="The keyring and its key lifecycle.", no_args_is_help=True)

NEW_PASSPHRASE_VARIABLE = "MAILVAULT_NEW_KEK_PASSPHRASE"  # noqa: S105 - a variable's name

PurposeOption = Annotated[
    Purpose, typer.Option("--purpose", help="Which keys.", case_sensitive=False)
]


def _settings(ctx: typer.Context) -> Settings:
    settings = getattr(ctx.find_root().obj, "settings", None)
    assert isinstance(settings, Settings)
    return settings


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Vault]:
    store = Vault.open(_settings(ctx))
    try:
        yield store
    finally:
        store.close()


def create_keyring_from_settings(settings: Settings) -> Keyring:
    """A new keyring where the settings point (a KEK file named there is generated if absent)."""
    if settings.demo:
        raise MailvaultError("demo mode uses the example keyring; run keys init without --demo")
    if settings.kek_file is not None and not settings.kek_file.exists():
        generate_kek_file(settings.kek_file)
        err.print(f"wrote a new KEK file to {settings.kek_file}: keep it apart from the keys")
    kek: Kek = kek_from_settings(settings)
    return create_keyring(settings.keys_dir, kek)


def _key_id(key: Key) -> str:
    return f"{key.id:08x}"


@keys_app.command("init")
def keys_init(ctx: typer.Context) -> None:
    """Create a new keyring in the keys directory, sealed under the KEK."""
    ring = create_keyring_from_settings(_settings(ctx))
    out.print(f"created {ring.path} with one key per purpose")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Key ids, purposes, versions, status and dates (never material)."""
    ring = open_keyring_from_settings(_settings(ctx))
    table = Table("id", "purpose", "version", "status", "created", "list")
    for key in ring.entries():
        table.add_row(
            _key_id(key),
            str(key.purpose),
            str(key.version),
            str(key.status),
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.list_id or "",
        )
    out.print(table)


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, purpose: PurposeOption) -> None:
    """Add a new version of a purpose's key and make it primary for new writes; older versions
    keep working for reads. Running services pick it up on SIGHUP or when they notice the file."""
    with _store(ctx) as store:
        rotation = services.rotate(store, purpose=purpose)
    new, old = rotation.new, rotation.previous
    out.print(
        f"rotated {purpose}: version {new.version} (id {_key_id(new)}) is primary; "
        f"version {old.version} (id {_key_id(old)}) still reads"
    )
    follow_up = {
        Purpose.ADDRESS: "then run `mailvault keys rewrap --purpose address`",
        Purpose.INDEX: "then run `mailvault keys rewrap --purpose index`",
        Purpose.SUPPRESSION: "old entries move over as their addresses are seen (`keys status`)",
    }.get(purpose)
    if follow_up:
        err.print(f"send SIGHUP to running services (or let them notice the file); {follow_up}")


@keys_app.command("rewrap")
def keys_rewrap(
    ctx: typer.Context,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="address or index (default: both).", show_default=False),
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=50000, help="Rows per transaction.")
    ] = DEFAULT_BATCH,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count rows per key version.")
    ] = False,
) -> None:
    """Re-encrypt local parts and recompute index digests under the primary keys, in batches.
    Resumable: after a crash, run it again. Safe beside live traffic."""
    if purpose is None:
        purposes = set(REWRAP_PURPOSES)
    elif purpose in ("address", "index"):
        purposes = {Purpose(purpose)}
    else:
        raise InputError("--purpose takes address or index")
    with _store(ctx) as store:
        plan = services.rewrap_plan(store, purposes=purposes)
        if dry_run:
            ring = store.keyring
            table = Table("purpose", "version", "id", "status", "rows")
            for label, counts in (("address", plan.address_rows), ("index", plan.index_rows)):
                for key_id, rows in sorted(counts.items(), key=lambda item: -item[1]):
                    try:
                        key = next(k for k in ring.entries() if k.id == key_id)
                        version, state = str(key.version), str(key.status)
                        if key.list_id:
                            version += " (list key)"
                    except StopIteration:
                        version, state = "?", "not in keyring"
                    table.add_row(label, version, f"{key_id:08x}", state, str(rows))
            out.print(table)
            out.print(f"{plan.pending} row(s) would be rewritten")
            return
        with progress_bar("rewrapping", plan.pending) as advance:
            result = services.rewrap(store, purposes=purposes, batch=batch, progress=advance)
    out.print(
        f"rewrapped {result.rows} row(s) in {result.batches} batch(es): "
        f"{result.sealed} re-encrypted, {result.indexed} re-indexed"
        + (f", {result.skipped} changed meanwhile (run again)" if result.skipped else "")
    )
    for problem in result.problems:
        err.print(problem)
    if result.conflicts or result.unreadable:
        err.print(
            f"{result.conflicts} row(s) would duplicate a subscriber on their list and "
            f"{result.unreadable} row(s) do not open; they stay as they are"
        )
        raise typer.Exit(1)


@keys_app.command("status")
def keys_status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per key.")] = False,
) -> None:
    """Per purpose and version: status, and how many rows still use it."""
    with _store(ctx) as store:
        report = services.status(store)
    if as_json:
        for item in report:
            record = {
                "purpose": str(item.key.purpose),
                "version": item.key.version,
                "id": _key_id(item.key),
                "status": str(item.key.status),
                "list_id": item.key.list_id,
                "rows": item.total,
                "where": item.rows,
            }
            sys.stdout.write(json.dumps(record) + "\n")
        return
    table = Table("purpose", "version", "id", "status", "created", "rows", "where")
    for item in report:
        key = item.key
        where = ", ".join(f"{column} {n}" for column, n in sorted(item.rows.items()))
        table.add_row(
            str(key.purpose) + (" (list)" if key.list_id else ""),
            str(key.version),
            _key_id(key),
            str(key.status),
            key.created_at.strftime("%Y-%m-%d"),
            str(item.total),
            where,
        )
    out.print(table)


@keys_app.command("retire")
def keys_retire(
    ctx: typer.Context,
    purpose: PurposeOption,
    version: Annotated[int, typer.Option("--version", min=1, help="The version to retire.")],
    drop_entries: Annotated[
        bool,
        typer.Option(
            "--drop-entries", help="Suppression keys only: delete the entries still under it."
        ),
    ] = False,
    confirm: Annotated[
        int | None,
        typer.Option("--confirm", help="With --drop-entries: the number of entries, typed."),
    ] = None,
    break_links: Annotated[
        bool,
        typer.Option(
            "--break-links",
            help="Token keys only: retire even though it signed unsubscribe links in the last "
            "90 days (those links then fail).",
        ),
    ] = False,
) -> None:
    """Destroy the material of a non-primary key version. Refused while rows still use it;
    suppression entries can be dropped with --drop-entries and a typed confirmation."""
    with _store(ctx) as store:
        if drop_entries and confirm is None and purpose == Purpose.SUPPRESSION:
            held = services.usage_of(store, purpose=purpose, version=version).total
            if held:
                confirm = _typed_confirmation(held)
        retirement = services.retire(
            store,
            purpose=purpose,
            version=version,
            drop_entries=drop_entries,
            confirm=confirm,
            break_links=break_links,
        )
    key = retirement.key
    dropped = f"; dropped {retirement.dropped} suppression entries" if retirement.dropped else ""
    out.print(f"retired {key.label}: its material is destroyed{dropped}")


def _typed_confirmation(held: int) -> int:
    if not sys.stdin.isatty():
        raise Conflict(
            f"this drops {held} suppression entries (those addresses stop being suppressed); "
            f"confirm with --confirm {held}"
        )
    err.print(
        f"[bold red]{held} suppression entries[/] are under this key. Dropping them means those "
        "addresses are no longer suppressed, and nothing can bring them back."
    )
    typed = typer.prompt("Type the number of entries to drop", default="", show_default=False)
    try:
        return int(typed.strip())
    except ValueError:
        raise Conflict("not confirmed; nothing was dropped") from None


@keys_app.command("rekey")
def keys_rekey(
    ctx: typer.Context,
    new_kek_file: Annotated[
        Path | None,
        typer.Option(
            "--new-kek-file",
            help="Seal under this KEK file (created if it does not exist).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Re-encrypt the keyring under a new passphrase (MAILVAULT_NEW_KEK_PASSPHRASE, or asked
    for) or a new KEK file. The keys themselves do not change."""
    if new_kek_file is not None:
        if not new_kek_file.exists():
            generate_kek_file(new_kek_file)
            err.print(f"wrote a new KEK file to {new_kek_file}: keep it apart from the keys")
        kek = Kek(file=new_kek_file)
        then = f"MAILVAULT_KEK_FILE={new_kek_file}"
    else:
        passphrase = os.environ.get(NEW_PASSPHRASE_VARIABLE)
        if not passphrase:
            if not sys.stdin.isatty():
                raise InputError(
                    f"give the new passphrase in {NEW_PASSPHRASE_VARIABLE}, or --new-kek-file"
                )
            passphrase = typer.prompt(
                "New key-encryption passphrase", hide_input=True, confirmation_prompt=True
            )
        kek = Kek(passphrase=passphrase)
        then = "MAILVAULT_KEK_PASSPHRASE to the new passphrase"
    with _store(ctx) as store:
        services.rekey(store, kek=kek)
    out.print("the keyring is sealed under the new KEK")
    err.print(f"set {then} for every service before it next opens the keyring")
