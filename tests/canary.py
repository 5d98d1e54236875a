"""The canary: a distinctive address pushed through every path, then searched for everywhere.

``assert_absent`` looks for the canary's local part in many encodings (as typed, lower and upper
case, UTF-16, hex, base64 at every alignment, URL-encoded), so a copy that was merely re-encoded
on its way to a file, a column or a log line is still found.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

CANARY_LOCAL = "Zq7Canary.Wren"
CANARY_DOMAIN = "canary-test.example"
CANARY = f"{CANARY_LOCAL}@{CANARY_DOMAIN}"


def _base64_forms(data: bytes) -> list[bytes]:
    forms = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        # Drop the characters that depend on the neighbouring bytes at both ends.
        start = (pad * 4 + 2) // 3 + 1
        forms.append(encoded[start : len(encoded) - 4])
    return forms


def encodings(local: str = CANARY_LOCAL) -> dict[str, bytes]:
    variants = {local, local.lower(), local.upper()}
    found: dict[str, bytes] = {}
    for variant in variants:
        raw = variant.encode("utf-8")
        found[f"utf-8 {variant}"] = raw
        found[f"utf-16-le {variant}"] = variant.encode("utf-16-le")
        found[f"utf-16-be {variant}"] = variant.encode("utf-16-be")
        found[f"hex {variant}"] = raw.hex().encode()
        found[f"HEX {variant}"] = raw.hex().upper().encode()
        found[f"url {variant}"] = quote(variant, safe="").encode()
        for i, form in enumerate(_base64_forms(raw)):
            found[f"base64/{i} {variant}"] = form
    return found


def occurrences(blob: bytes, local: str = CANARY_LOCAL) -> list[str]:
    return [name for name, needle in encodings(local).items() if needle and needle in blob]


def assert_absent(blob: bytes | str, where: str, local: str = CANARY_LOCAL) -> None:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    found = occurrences(data, local)
    assert not found, f"the canary local part leaked into {where} as {found}"


def database_bytes(url: str) -> bytes:
    """Everything a thief of the database would get: the SQLite files, or a PostgreSQL dump
    plus the raw contents of every text and binary column."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        path = Path(parsed.database)
        return b"".join(
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    engine = create_engine(url)
    chunks: list[bytes] = []
    try:
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            inspector = inspect(connection)
            for table in inspector.get_table_names(schema=schema):
                columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
                select_list = ", ".join(f'"{c}"::text' for c in columns)
                for row in connection.execute(
                    text(f'SELECT {select_list} FROM "{schema}"."{table}"')
                ):
                    chunks.extend(str(value).encode() for value in row if value is not None)
                # bytea columns also as raw bytes, not only as their \x text form
                for column in inspector.get_columns(table, schema=schema):
                    if "BYTEA" in str(column["type"]).upper():
                        for (value,) in connection.execute(
                            text(f'SELECT "{column["name"]}" FROM "{schema}"."{table}"')
                        ):
                            if value is not None:
                                chunks.append(bytes(value))
    finally:
        engine.dispose()
    libpq = parsed.set(drivername="postgresql", query={})
    dump = subprocess.run(
        ["pg_dump", "--schema", schema, libpq.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    chunks.append(dump.stdout)
    return b"\n".join(chunks)
