"""Database plumbing: declarative base, shared column types, engines and sessions."""

from vault.db.base import Base, UTCDateTime
from vault.db.engine import make_engine, make_sessionmaker, normalize_url, transaction

__all__ = [
    "Base",
    "UTCDateTime",
    "make_engine",
    "make_sessionmaker",
    "normalize_url",
    "transaction",
]
