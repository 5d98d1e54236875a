"""Every table, imported in one place so that ``Base.metadata`` is complete (Alembic, tests)."""

from vault.audit.models import AuditEntry
from vault.db.base import Base
from vault.deliveries.models import BounceState, DeliveryOutcome
from vault.mailings.models import Mailing
from vault.principals.models import Principal
from vault.retention.models import PurgeRun, PurgeRunClass
from vault.subscribers.models import ConsentRecord, ImportRun, MailingList, Subscriber
from vault.suppressions.models import Suppression

__all__ = [
    "AuditEntry",
    "Base",
    "BounceState",
    "ConsentRecord",
    "DeliveryOutcome",
    "ImportRun",
    "Mailing",
    "MailingList",
    "Principal",
    "PurgeRun",
    "PurgeRunClass",
    "Subscriber",
    "Suppression",
]
