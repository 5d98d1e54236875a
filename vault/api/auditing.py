"""Audit entries for API actions, written in the caller's transaction (fail closed)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vault.api.deps import Caller
from vault.audit import services as audit
from vault.store import Vault


def record(
    session: Session, store: Vault, caller: Caller, *, tag: str, subject: str, **details: object
) -> None:
    audit.record(
        session,
        keyring=store.keyring,
        actor=caller.actor,
        tag=tag,
        subject=subject,
        details=dict(details),
        now=store.now(),
    )
