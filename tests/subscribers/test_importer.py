import csv
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vault.addresses import parse_address
from vault.crypto import sealed_key_id
from vault.errors import InputError
from vault.store import Vault
from vault.subscribers import importer
from vault.subscribers.models import ConsentMethod, ImportRun, Subscriber
from vault.suppressions.models import SuppressionReason


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or ["Name", "Email", "City"])
        writer.writerows(rows)
    return path


def count(store: Vault) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


@pytest.fixture
def news(store: Vault):
    return store.create_list("news")


def run_import(store: Vault, path: Path, **kwargs):
    return store.import_csv(
        path,
        list_name="news",
        consent=ConsentMethod.IMPORTED,
        source="crm export 2026-02",
        **kwargs,
    )


def test_counts_and_rejects(store: Vault, news, tmp_path: Path) -> None:
    store.suppress(
        [parse_address("gone@example.com")], reason=SuppressionReason.COMPLAINT, source="fbl"
    )
    path = write_csv(
        tmp_path / "list.csv",
        [
            ["A", "a@example.com", "x"],
            ["B", "B@Example.com", "x"],
            ["A again", "A@EXAMPLE.COM", "x"],
            ["Bad", "secret-local-part", "x"],
            ["Gone", "gone@example.com", "x"],
            ["Short"],
        ],
    )
    summary = run_import(store, path, batch_size=2)
    assert (summary.imported, summary.duplicates, summary.suppressed, summary.invalid) == (
        2,
        1,
        1,
        2,
    )
    rejects = (tmp_path / "list.rejects.csv").read_text()
    assert rejects.splitlines() == [
        "line,reason",
        "5,the address has no @",
        "7,the address is empty",
    ]
    assert "secret-local-part" not in rejects
    assert count(store) == 2


def test_imported_rows_are_what_a_subscribe_writes(store: Vault, news, tmp_path: Path) -> None:
    """The batch path (ids drawn in one go, sealing in bulk, COPY on PostgreSQL) writes rows
    that open, are found again and carry the import's consent and time like a subscribe."""
    raw = ["Kijitora@Example.com", "o'brien+tag@example.org", "用户@例子.广告"]
    path = write_csv(tmp_path / "list.csv", [["x", a, "y"] for a in raw])
    before = store.now()
    assert run_import(store, path, batch_size=2).imported == 3
    with store.read() as session:
        rows = list(session.scalars(select(Subscriber)))
    keys = store.keys
    opened = set()
    for row in rows:
        assert row.id.version == 4 and row.id.variant == uuid.RFC_4122
        assert row.address_key_id == sealed_key_id(row.sealed_local_part)
        assert row.address_key_id == keys.cipher.primary_key_id()
        assert row.index_key_id == keys.index.primary_key_id
        local = keys.cipher.open(row.sealed_local_part, subscriber_id=row.id, domain=row.domain)
        opened.add(f"{local}@{row.domain}")
        assert (
            row.index_digest
            == keys.index.primary(parse_address(f"{local}@{row.domain}").canonical).digest
        )
        assert row.status == "subscribed" and row.consent_method == "imported"
        assert row.consent_source == "crm export 2026-02"
        assert row.created_at == row.consent_at == row.status_changed_at == row.updated_at
        assert row.created_at >= before and row.created_at.tzinfo is not None
    assert opened == {parse_address(a).deliverable for a in raw}
    assert len({row.id for row in rows}) == 3
    for address in raw:
        outcome = store.subscribe(
            address, list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
        assert outcome.outcome == "duplicate"


def test_reimport_counts_duplicates(store: Vault, news, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", f"u{i}@example.com", ""] for i in range(10)])
    run_import(store, path)
    again = run_import(store, path)
    assert (again.imported, again.duplicates) == (0, 10)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"name,mail\nA,a@example.com\n", "no 'email' column"),
        (b"email\na@example.com\n\xff\xfe@example.com\n", "not valid UTF-8"),
        (b'email\n"a@example.com\nb@example.com\n', "broken CSV row"),
    ],
)
def test_fatal_problems_write_nothing(
    store: Vault, news, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        run_import(store, path)
    assert count(store) == 0
    with store.read() as session:
        assert session.scalars(select(ImportRun)).all() == []


def test_interrupted_import_resumes(
    store: Vault, news, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", f"u{i}@example.com", ""] for i in range(25)])
    real = importer._import_batch
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_import_batch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        run_import(store, path, batch_size=5)
    assert count(store) == 10
    monkeypatch.setattr(importer, "_import_batch", real)
    resumed = run_import(store, path, batch_size=5)
    assert resumed.resumed_from_line == 11
    assert (resumed.imported, resumed.duplicates) == (25, 0)
    assert count(store) == 25
    with store.read() as session:
        runs = session.scalars(select(ImportRun)).all()
    assert [(r.status, r.imported) for r in runs] == [("completed", 25)]


def test_bom_and_extra_columns(store: Vault, news, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffEMAIL;x,first\r\na@example.com,Ann\r\n".replace(";x", "").encode("utf-8")
    )
    summary = run_import(store, path)
    assert summary.imported == 1
