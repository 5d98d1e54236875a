"""Streaming CSV import: one transaction per batch, resumable, never resurrecting a suppression.

The file is read twice: a first pass finds every fatal problem (encoding, broken quoting, no
``email`` column) before anything is written, so a bad file leaves no half-import behind; the
second pass imports in batches and records its progress with each batch, so an interrupted
import resumes where it stopped when the same command is run again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, bindparam, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import NullType

from vault.addresses import Address, parse_address
from vault.crypto import KeySuite
from vault.db.base import Base
from vault.db.bulk import insert_rows, random_uuids
from vault.errors import InputError, InvalidAddress
from vault.subscribers.models import (
    ConsentMethod,
    ImportRun,
    MailingList,
    Subscriber,
)
from vault.subscribers.services import new_subscriber_shared_values
from vault.suppressions.rehash import rehash_quietly
from vault.suppressions.services import QUERY_CHUNK, check_many

DEFAULT_BATCH = 5000
SUBSCRIBERS_TABLE = Base.metadata.tables["subscribers"]
_FIELD_LIMIT = 64 * 1024


@dataclass
class ImportSummary:
    run_id: uuid.UUID
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    suppressed: int = 0
    invalid: int = 0
    resumed_from_line: int = 0
    rejects_file: Path | None = None
    rejects: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int | str | None]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "invalid": self.invalid,
            "lines": self.lines,
            "resumed_from_line": self.resumed_from_line,
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
        }


@dataclass(frozen=True)
class _Row:
    line: int
    value: str


def _open_text(path: Path) -> io.TextIOWrapper:
    # errors="strict": a wrong encoding is a fatal, named error, never mojibake in the store.
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


def _rows(path: Path) -> Iterator[_Row]:
    """Yield (line number, email field) per data row; raise InputError on a fatal problem."""
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(
                    f"{path} is empty; expected a header with an email column"
                ) from None
            names = [h.strip().lower() for h in header]
            if "email" not in names:
                raise InputError(
                    f"{path} has no 'email' column (its header names {len(names)} columns)"
                )
            column = names.index("email")
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                yield _Row(reader.line_num, row[column] if column < len(row) else "")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not valid UTF-8 (byte offset {exc.start}); re-save it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise InputError(f"{path} has a broken CSV row: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_file(path: Path) -> int:
    """First pass: raise on anything fatal, return the number of data rows."""
    return sum(1 for _ in _rows(path))


def import_csv(
    factory: sessionmaker[Session],
    *,
    keys: KeySuite,
    path: Path,
    mailing_list: MailingList,
    consent: ConsentMethod,
    source: str,
    now: Callable[[], datetime],
    rejects_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    total = validate_file(path)
    file_sha = _file_digest(path)
    with factory() as session, session.begin():
        run = session.scalar(
            select(ImportRun).where(
                ImportRun.list_id == mailing_list.id,
                ImportRun.file_sha256 == file_sha,
                ImportRun.status == "running",
            )
        )
        if run is None:
            run = ImportRun(
                id=uuid.uuid4(),
                list_id=mailing_list.id,
                file_sha256=file_sha,
                consent_method=str(consent),
                consent_source=source[:200],
                status="running",
                lines_done=0,
                imported=0,
                duplicates=0,
                suppressed=0,
                invalid=0,
                started_at=now(),
            )
            session.add(run)
        run_id, start_line = run.id, run.lines_done
        summary = ImportSummary(
            run_id=run_id,
            imported=run.imported,
            duplicates=run.duplicates,
            suppressed=run.suppressed,
            invalid=run.invalid,
            resumed_from_line=start_line,
        )
    summary.lines = total
    if progress and start_line:
        progress(sum(1 for row in _rows(path) if row.line <= start_line))
    pending = (row for row in _rows(path) if row.line > start_line)
    for batch in _batches(pending, batch_size):
        _import_batch(
            factory,
            keys=keys,
            batch=batch,
            run_id=run_id,
            list_id=mailing_list.id,
            consent=consent,
            source=source,
            now=now(),
            summary=summary,
            address_key_id=mailing_list.own_key_id,
        )
        if progress:
            progress(len(batch))
    with factory() as session, session.begin():
        finished = session.get(ImportRun, run_id)
        assert finished is not None
        finished.status = "completed"
        finished.finished_at = now()
    if summary.rejects:
        summary.rejects_file = _write_rejects(
            rejects_path or path.with_suffix(".rejects.csv"), summary.rejects, append=start_line > 0
        )
    return summary


def _batches(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_rejects(path: Path, rejects: list[tuple[int, str]], *, append: bool) -> Path:
    """Line number and reason only: the rejects file must not become another copy of the list."""
    new_file = not (append and path.exists())
    with open(path, "a" if not new_file else "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(["line", "reason"])
        writer.writerows(rejects)
    return path


def _import_batch(
    factory: sessionmaker[Session],
    *,
    keys: KeySuite,
    batch: list[_Row],
    run_id: uuid.UUID,
    list_id: uuid.UUID,
    consent: ConsentMethod,
    source: str,
    now: datetime,
    summary: ImportSummary,
    address_key_id: int | None = None,
) -> None:
    parsed: dict[str, tuple[int, Address]] = {}
    invalid: list[tuple[int, str]] = []
    duplicates = 0
    for row in batch:
        try:
            address = parse_address(row.value)
        except InvalidAddress as exc:
            invalid.append((row.line, str(exc)))
            continue
        if address.canonical in parsed:
            duplicates += 1
        else:
            parsed[address.canonical] = (row.line, address)
    with factory() as session, session.begin():
        connection = session.connection()
        canonicals = list(parsed)
        # Already on the list (under any live index key)? The primary key's digest is kept for
        # the rows written below.
        index = keys.index
        primary_position = index.key_ids.index(index.primary_key_id)
        index_owner: dict[bytes, str] = {}
        new_digest: dict[str, bytes] = {}
        digests_of = index.digests
        for canonical in canonicals:
            digests = digests_of(canonical)
            new_digest[canonical] = digests[primary_position]
            for digest in digests:
                index_owner[digest] = canonical
        digests = list(index_owner)
        present: set[str] = set()
        for start in range(0, len(digests), QUERY_CHUNK):
            for digest in connection.scalars(
                _PRESENT, {"list_id": list_id, "digests": digests[start : start + QUERY_CHUNK]}
            ):
                present.add(index_owner[digest])
        fresh = [c for c in canonicals if c not in present]
        duplicates += len(present)
        results = check_many(connection, keys=keys, canonicals=fresh, list_id=list_id, now=now)
        suppressed = sum(1 for r in results if r.suppressed)
        stale = [c for c, r in zip(fresh, results, strict=True) if r.stale]
        if stale:  # seen in plain text: move their entries off older suppression keys
            rehash_quietly(session, keys=keys, canonicals=stale)
        accepted = [
            parsed[canonical][1]
            for canonical, result in zip(fresh, results, strict=True)
            if not result.suppressed
        ]
        _insert_subscribers(
            connection,
            keys=keys,
            addresses=accepted,
            digests=[new_digest[address.canonical] for address in accepted],
            list_id=list_id,
            consent=consent,
            source=source,
            now=now,
            address_key_id=address_key_id,
        )
        run = session.get(ImportRun, run_id)
        assert run is not None
        run.lines_done = batch[-1].line
        run.imported += len(accepted)
        run.duplicates += duplicates
        run.suppressed += suppressed
        run.invalid += len(invalid)
    summary.imported += len(accepted)
    summary.duplicates += duplicates
    summary.suppressed += suppressed
    summary.invalid += len(invalid)
    summary.rejects.extend(invalid)


_PRESENT = select(Subscriber.index_digest).where(
    Subscriber.list_id == bindparam("list_id"),
    # Digests are bytes already, which every driver takes as they are: no per-value conversion.
    type_coerce(Subscriber.index_digest, NullType()).in_(bindparam("digests", expanding=True)),
)
# Written per row, in the driver's form; every other column holds one value for the batch.
_ROW_COLUMNS = ("id", "domain", "sealed_local_part", "index_digest")


def _insert_subscribers(
    connection: Connection,
    *,
    keys: KeySuite,
    addresses: list[Address],
    digests: list[bytes],
    list_id: uuid.UUID,
    consent: ConsentMethod,
    source: str,
    now: datetime,
    address_key_id: int | None,
) -> None:
    """The rows ``subscriber_values`` would make, built a batch at a time: ids drawn in one go,
    local parts sealed under a key looked up once, shared values converted once."""
    if not addresses:
        return
    if address_key_id is None:
        address_key_id = keys.cipher.primary_key_id()
    ids = random_uuids(len(addresses))
    sealed = keys.cipher.seal_many(
        [
            (address.local_part, subscriber_id, address.domain)
            for address, subscriber_id in zip(addresses, ids, strict=True)
        ],
        key_id=address_key_id,
    )
    insert_rows(
        connection,
        SUBSCRIBERS_TABLE,
        columns=_ROW_COLUMNS,
        rows=[
            (subscriber_id.hex(), address.domain, local, digest)
            for subscriber_id, address, local, digest in zip(
                ids, addresses, sealed, digests, strict=True
            )
        ],
        shared=new_subscriber_shared_values(
            list_id=list_id,
            address_key_id=address_key_id,
            index_key_id=keys.index.primary_key_id,
            consent=consent,
            source=source,
            now=now,
        ),
    )
