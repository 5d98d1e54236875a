"""Bulk inserts at driver speed for the import path.

SQLAlchemy converts every parameter of every row through its column type; for an import that is
most of the cost, because five of a subscriber's columns hold the same timestamp in every row of
a batch. Here each column's converter runs once per distinct value object, and the rows go to the
driver's ``executemany`` as tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_many(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = connection.dialect
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608 - quoted names from our own schema
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
