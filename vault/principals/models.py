"""The principals table: who may call the API, with which roles, under which token hash.

Only an HMAC of the bearer token is stored, with a short non-secret prefix for display.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base, digest, timestamp, uuid_pk


class Principal(Base):
    __tablename__ = "principals"
    __table_args__ = (Index(None, "name"),)

    id: Mapped[uuid_pk]
    # Not unique: a revoked principal keeps its name, and a new one may take it up again.
    name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[str] = mapped_column(String(200))  # sorted, comma-separated role names
    token_prefix: Mapped[str] = mapped_column(String(16))  # e.g. "mvk_AbCd1234", for display
    token_hash: Mapped[digest] = mapped_column(unique=True)
    token_key_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[timestamp]
    revoked_at: Mapped[timestamp | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"Principal(id={self.id}, name={self.name!r}, roles={self.roles!r})"
