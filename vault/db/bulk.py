"""Bulk inserts at driver speed for the import path.

SQLAlchemy converts every parameter of every row through its column type; for an import that is
most of the cost, because most of a subscriber's columns hold the same value in every row of a
batch. Here a shared value is converted once, the rows go to the driver as tuples, and on
PostgreSQL they travel by ``COPY`` instead of one ``INSERT`` per row.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Table

_UUID_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_UUID_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def random_uuids(count: int) -> list[bytes]:
    """``count`` random (version 4) UUIDs as their 16 bytes, drawn in one go: an import used to
    spend more on building ``uuid.UUID`` objects one by one than on sealing."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_UUID_VERSION_4)
    raw[8::16] = raw[8::16].translate(_UUID_VARIANT)
    return [bytes(raw[start : start + 16]) for start in range(0, len(raw), 16)]


def _copy_text(value: Any) -> Any:
    # COPY's text format takes strings as they are, while a datetime or UUID object would be
    # formatted again for every row.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _processor(table: Table, name: str, dialect: Dialect) -> Any:
    # The dialect's own implementation: on SQLite that is what renders a datetime as SQLAlchemy's
    # text form (the generic type would hand the driver a datetime to format its own way).
    return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)


def _quoted(dialect: Dialect, table: Table, names: Sequence[str]) -> tuple[str, str]:
    quote = dialect.identifier_preparer.quote
    return quote(table.name), ", ".join(quote(n) for n in names)


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as dicts of Python values; each column's converter runs once per distinct value
    object shared by the rows (timestamps), and per value otherwise."""
    if not rows:
        return
    dialect = connection.dialect
    names = list(rows[0])
    processors = [_processor(table, name, dialect) for name in names]
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    quoted_table, quoted_names = _quoted(dialect, table, names)
    statement = (
        f"INSERT INTO {quoted_table} ({quoted_names}) "  # noqa: S608 - quoted names from our own schema
        f"VALUES ({', '.join(placeholder for _ in names)})"
    )
    converted: list[dict[int, Any]] = [{} for _ in names]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = []
        for position, name in enumerate(names):
            value = row[name]
            process = processors[position]
            if process is not None and value is not None:
                cache = converted[position]
                key = id(value)
                if key in cache:
                    value = cache[key]
                else:
                    processed = process(value)
                    # Only objects shared by many rows are worth remembering (timestamps);
                    # caching per-row values would hold the whole batch twice.
                    if isinstance(value, type(rows[0][name])) and value is rows[0][name]:
                        cache[key] = processed
                    value = processed
            values.append(value)
        params.append(tuple(values))
    connection.exec_driver_sql(statement, params)


def insert_rows(
    connection: Connection,
    table: Table,
    *,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    shared: Mapping[str, Any],
) -> None:
    """Insert ``rows``, tuples of values for ``columns`` already in a form every driver stores
    as is (text, bytes, integers, a UUID as 32 hex digits), each completed with the ``shared``
    columns, whose one value per column is converted once through its column type.

    On PostgreSQL the rows go through ``COPY ... FROM STDIN`` inside the caller's transaction:
    all or nothing like the ``INSERT``, and a constraint violation fails the statement the same
    way.
    """
    if not rows:
        return
    dialect = connection.dialect
    names = [*columns, *shared]
    tail = tuple(
        value if value is None or process is None else process(value)
        for value, process in (
            (value, _processor(table, name, dialect)) for name, value in shared.items()
        )
    )
    quoted_table, quoted_names = _quoted(dialect, table, names)
    if dialect.name == "postgresql":
        tail = tuple(_copy_text(value) for value in tail)
        driver = connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {quoted_table} ({quoted_names}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            for row in rows:
                write(row + tail)
        return
    placeholders = ", ".join("?" for _ in names)
    connection.exec_driver_sql(
        f"INSERT INTO {quoted_table} ({quoted_names}) VALUES ({placeholders})",  # noqa: S608 - quoted names from our own schema
        [row + tail for row in rows],
    )
