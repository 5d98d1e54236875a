"""``mailvault demo``: the main job end to end on the embedded default, with the example keys."""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
from pathlib import Path

from rich.panel import Panel
from rich.table import Table

from vault.addresses import parse_address
from vault.cli.console import out
from vault.config import Settings
from vault.db import make_engine
from vault.db.migrate import upgrade
from vault.errors import Conflict, NotFound
from vault.principals.permissions import Role
from vault.store import Vault
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import SuppressionReason

LIST_NAME = "newsletter"

SAMPLE = [
    "Kijitora@Example.COM",
    "kuroneko+weekly@example.com",
    "mikeneko@mail.example.org",
    "sabatora@example.net",
    "shironeko@bücher.example",
    "buchi@example.net",
    "chatora@mail.example.org",
    "kijitora@example.com",  # the first address again, in another case: a duplicate
    "not-an-address",
    "hachiware@example.com",
    "mike@example.co.jp",
    "tabby@example.co.jp",
]
CHECKS = [
    "kijitora@example.com",
    "SABATORA@example.net",
    "chatora@mail.example.org",
    "hachiware@example.com",
    "nobody@example.org",
]


def run_demo(settings: Settings) -> None:
    if not settings.demo:
        settings = Settings(**{**settings.__dict__, "demo": True}).with_demo_defaults()
    out.print(
        Panel(
            "[bold]mailvault demo[/] uses the example keys from keys.example/.\n"
            "These keys are PUBLIC and for demos only: anyone can decrypt a store made with them.\n"
            "For real data run `mailvault keys init` with your own passphrase or KEK file.",
            border_style="yellow",
            expand=False,
        )
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    store = Vault.open(settings)
    try:
        _walk_through(store)
    finally:
        store.close()


def _walk_through(store: Vault) -> None:
    url = store.engine.url.render_as_string(hide_password=True)
    out.print(f"1. store: {url}")
    try:
        store.create_list(LIST_NAME)
        out.print(f"2. created the list '{LIST_NAME}'")
    except Conflict:
        out.print(f"2. the list '{LIST_NAME}' exists already (demo run before)")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.csv"
        with sample.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "first_name"])
            writer.writerows([address, "-"] for address in SAMPLE)
        summary = store.import_csv(
            sample,
            list_name=LIST_NAME,
            consent=ConsentMethod.DOUBLE_OPT_IN,
            source="demo signup form",
            rejects_path=Path(tmp) / "rejects.csv",
        )
    out.print(
        f"3. imported a sample list of {len(SAMPLE)} rows: {summary.imported} new, "
        f"{summary.duplicates} duplicates, {summary.suppressed} suppressed, "
        f"{summary.invalid} invalid (the rejects file names line and reason, not the address)"
    )
    for address, reason in (
        ("sabatora@example.net", SuppressionReason.UNSUBSCRIBE),
        ("chatora@mail.example.org", SuppressionReason.COMPLAINT),
        ("hachiware@example.com", SuppressionReason.HARD_BOUNCE),
    ):
        store.suppress([parse_address(address)], reason=reason, source="demo")
    out.print(
        "4. recorded suppressions (stored as keyed hashes, never addresses): "
        "an unsubscribe, a complaint, a hard bounce"
    )
    table = Table("address", "suppressed", "reason", "scope", title="5. checks")
    for answer in store.check(CHECKS):
        table.add_row(
            answer.address,
            "yes" if answer.suppressed else "no",
            answer.reason or "",
            answer.scope or "",
        )
    out.print(table)
    counts = Table("domain", "subscribed", title=f"6. subscribers per domain in '{LIST_NAME}'")
    for domain, count in store.domain_counts(list_name=LIST_NAME):
        counts.add_row(domain, str(count))
    out.print(counts)
    out.print(f"7. {store.verify_audit().describe()}")
    out.print(
        "[yellow]Reminder: example keys are for demos only; mailvault refuses them "
        "outside demo mode.[/]"
    )


# -- the API part of `make run` --------------------------------------------------------------
def create_demo_principals(store: Vault) -> dict[Role, str]:
    """One principal per role, named ``demo-<role>``; a previous demo's are revoked first
    (a token cannot be shown twice, so re-running the demo mints new ones)."""
    from vault.cli.principals import create_principal, revoke_principal

    tokens: dict[Role, str] = {}
    for role in Role:
        name = f"demo-{role}"
        with contextlib.suppress(NotFound):
            revoke_principal(store, name)
        _principal, tokens[role] = create_principal(store, name=name, roles=[role])
    return tokens


def announce_demo_principals(store: Vault, *, host: str, port: int) -> None:
    tokens = create_demo_principals(store)
    base = f"http://{host}:{port}"
    table = Table("role", "token (demo only)", title="8. API principals, one per role")
    for role, token in tokens.items():
        table.add_row(str(role), token)
    out.print(table, soft_wrap=True)
    check = json.dumps({"addresses": CHECKS[:2], "list": None})
    out.print("Try (the API starts below; Ctrl-C stops it):", soft_wrap=True)
    out.print(
        f"  curl -s -H 'Authorization: Bearer {tokens[Role.SENDER]}' "
        f"-H 'Content-Type: application/json' -d '{check}' {base}/v1/suppressions/check",
        soft_wrap=True,
        markup=False,
    )
    out.print(
        f"  curl -s -H 'Authorization: Bearer {tokens[Role.MARKETING]}' "
        f"{base}/v1/reports/domains?list={LIST_NAME}",
        soft_wrap=True,
        markup=False,
    )
    out.print(f"  OpenAPI docs: {base}/docs", soft_wrap=True)
