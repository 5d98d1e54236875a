"""Mailings: a list filtered by domain rules, with a status that lets it be released once.

No recipient list is stored: recipients are worked out at release time, so a suppression or an
unsubscribe made after the mailing was created still counts.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base, short_text, timestamp, uuid_pk


class MailingStatus(StrEnum):
    DRAFT = "draft"
    OVERRIDE_GRANTED = "override_granted"  # compliance allowed one more release
    RELEASED = "released"


class Mailing(Base):
    __tablename__ = "mailings"

    id: Mapped[uuid_pk]
    name: Mapped[short_text]
    list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), index=True
    )
    # Normalized domain patterns: "example.com" or "*.example.com" (sub-domains only).
    include_domains: Mapped[list[str]] = mapped_column(JSON)
    exclude_domains: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[short_text]  # "principal:<uuid>" or "cli:<user>"
    created_at: Mapped[timestamp]
    releases: Mapped[int] = mapped_column(Integer, default=0)
    released_at: Mapped[timestamp | None] = mapped_column(default=None)
