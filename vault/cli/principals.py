"""``mailvault principals``: API principals and their bearer tokens (create, list, revoke).

A token is printed once, at creation; only its keyed hash is stored, so it cannot be shown again.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vault.audit import services as audit
from vault.cli.app import _state
from vault.cli.console import err, out
from vault.principals import services as principals
from vault.principals.models import Principal
from vault.principals.permissions import Role
from vault.store import Vault

principals_app = typer.Typer(help="API principals and their tokens.", no_args_is_help=True)


def create_principal(store: Vault, *, name: str, roles: list[Role]) -> tuple[Principal, str]:
    """Create a principal (audited as the store's actor); returns it with its one-time token."""
    with store.write() as session:
        principal, token = principals.create(
            session, keyring=store.keyring, name=name, roles=roles, now=store.now()
        )
        audit.record(
            session,
            keyring=store.keyring,
            actor=store.actor,
            tag="principal:create",
            subject=f"principal:{principal.id}",
            details={"roles": principal.roles, "token_key_id": f"{principal.token_key_id:08x}"},
            now=store.now(),
        )
    return principal, token


def revoke_principal(store: Vault, name: str) -> Principal:
    with store.write() as session:
        principal = principals.revoke(session, name=name, now=store.now())
        audit.record(
            session,
            keyring=store.keyring,
            actor=store.actor,
            tag="principal:revoke",
            subject=f"principal:{principal.id}",
            now=store.now(),
        )
    return principal


@principals_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="A name for people, e.g. mta-hook.")],
    role: Annotated[
        list[Role], typer.Option("--role", help="Repeat for several roles.", case_sensitive=False)
    ],
) -> None:
    """Create a principal and print its bearer token (once: only a hash is kept)."""
    store = _state(ctx).vault()
    try:
        principal, token = create_principal(store, name=name, roles=role)
    finally:
        store.close()
    err.print(
        f"created principal {principal.name} ({principal.id}) with roles {principal.roles}; "
        "the token below is shown only now:"
    )
    out.print(token, soft_wrap=True)


@principals_app.command("list")
def list_(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked ones.")] = False,
) -> None:
    """Principals with their roles and token prefixes (never a token)."""
    store = _state(ctx).vault()
    try:
        with store.read() as session:
            found = principals.all_principals(session, include_revoked=include_revoked)
    finally:
        store.close()
    table = Table("name", "id", "roles", "token", "created", "revoked")
    for p in found:
        table.add_row(
            p.name,
            str(p.id),
            p.roles,
            p.token_prefix + "...",
            p.created_at.strftime("%Y-%m-%d %H:%M"),
            p.revoked_at.strftime("%Y-%m-%d %H:%M") if p.revoked_at else "",
        )
    out.print(table)


@principals_app.command("revoke")
def revoke(ctx: typer.Context, name: str) -> None:
    """Revoke a principal's token; every server refuses it within a second."""
    store = _state(ctx).vault()
    try:
        principal = revoke_principal(store, name)
    finally:
        store.close()
    out.print(f"revoked principal {principal.name} ({principal.id})")
