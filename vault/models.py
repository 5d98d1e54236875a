"""Every table, imported in one place so that ``Base.metadata`` is complete (Alembic, tests)."""

from vault.audit.models import AuditEntry
from vault.db.base import Base
from vault.retention.models import PurgeRun, PurgeRunClass
from vault.subscribers.models import ConsentRecord, ImportRun, MailingList, Subscriber
from vault.suppressions.models import Suppression

__all__ = [
    "AuditEntry",
    "Base",
    "ConsentRecord",
    "ImportRun",
    "MailingList",
    "PurgeRun",
    "PurgeRunClass",
    "Subscriber",
    "Suppression",
]
