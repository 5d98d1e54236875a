"""Every table, imported in one place so that ``Base.metadata`` is complete (Alembic, tests)."""

from vault.audit.models import AuditEntry
from vault.db.base import Base
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.subscribers.models import ConsentRecord, ImportRun, MailingList, Subscriber
from vault.suppressions.models import Suppression

__all__ = [
    "AuditEntry",
    "Base",
    "BounceState",
    "ConsentRecord",
    "DeliveryOutcome",
    "ImportRun",
    "MailingList",
    "Subscriber",
    "Suppression",
]
