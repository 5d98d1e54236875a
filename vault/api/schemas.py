"""Wire schemas (``XCreate`` in, ``XPublic`` out), apart from the tables they describe.

No public schema has a field for a local part or a full address, except the echo of an address
the caller has just sent (check results, lookup answers). Free-text fields refuse ``@`` so an
address cannot be smuggled into the database or the audit log as a "reason" or a "source".
"""

from __future__ import annotations

import builtins
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vault.principals.permissions import Permission, Role
from vault.subscribers.models import ConsentMethod
from vault.suppressions.models import SuppressionReason

MAX_BATCH = 10_000


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return text


def _no_address(text: str) -> str:
    _storable(text)
    if "@" in text:
        raise ValueError("must not contain '@' (free text is stored; addresses never are)")
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    return text


FreeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_address),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_address),
]
# Long enough for any valid address (64 + 1 + 255) with room for white space and quotes.
AddressText = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_storable)]
DomainRule = Annotated[
    str, StringConstraints(min_length=1, max_length=260), AfterValidator(_storable)
]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- principals ------------------------------------------------------------------------------
class Me(Wire):
    id: uuid.UUID
    name: str
    roles: builtins.list[Role]
    permissions: builtins.list[Permission]


class PrincipalCreate(Wire):
    name: Name
    roles: builtins.list[Role] = Field(min_length=1, max_length=len(Role))


class PrincipalPublic(Wire):
    id: uuid.UUID
    name: str
    roles: builtins.list[Role]
    token_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class PrincipalCreated(Wire):
    principal: PrincipalPublic
    token: str = Field(description="Shown once; only its keyed hash is stored.")


# -- lists and subscribers -------------------------------------------------------------------
class ListCreate(Wire):
    name: Name


class ListPublic(Wire):
    id: uuid.UUID
    name: str
    created_at: datetime
    subscribed: int


class ListDetail(ListPublic):
    by_status: dict[str, int]


class SubscriberCreate(Wire):
    address: AddressText
    consent: ConsentMethod
    source: FreeText = Field(description="Where consent was given (a form, an import's evidence)")


class SubscribePublic(Wire):
    outcome: str = Field(description="created, duplicate, resubscribed, or suppressed (refused)")
    subscriber_id: uuid.UUID | None


class Unsubscribe(Wire):
    address: AddressText
    source: FreeText = "api"


class UnsubscribePublic(Wire):
    list: str
    suppressed_for_list: bool = True


# -- lookup and subjects ---------------------------------------------------------------------
class AddressQuery(Wire):
    address: AddressText


class ConsentEvent(Wire):
    event: str
    method: str
    source: str
    at: datetime


class Membership(Wire):
    list: str
    subscriber_id: uuid.UUID
    status: str
    status_changed_at: datetime
    consent: builtins.list[ConsentEvent]


class SuppressionPublic(Wire):
    reason: str
    scope: str
    source: str
    created_at: datetime
    expires_at: datetime | None


class LookupPublic(Wire):
    address: str = Field(description="The address you sent, echoed back")
    suppressed: bool
    subscriptions: builtins.list[Membership]
    suppressions: builtins.list[SuppressionPublic]


class Erasure(Wire):
    address: AddressText
    source: FreeText = Field(description="The request's reference (a ticket number)")


class ErasurePublic(Wire):
    subscribers_removed: int
    lists: builtins.list[str]
    suppression_added: bool


# -- suppressions ----------------------------------------------------------------------------
class SuppressionCreate(Wire):
    addresses: builtins.list[AddressText] = Field(min_length=1, max_length=MAX_BATCH)
    reason: SuppressionReason
    source: FreeText = "api"
    list: Name | None = None
    expires_at: datetime | None = None


class InvalidItem(Wire):
    index: int
    problem: str


class SuppressionOutcome(Wire):
    added: int
    already: int
    invalid: builtins.list[InvalidItem]


class SuppressionRemove(Wire):
    address: AddressText
    reason: SuppressionReason
    list: Name | None = None


class RemovalPublic(Wire):
    removed: int


class CheckRequest(Wire):
    addresses: builtins.list[AddressText] = Field(min_length=1, max_length=MAX_BATCH)
    list: Name | None = None


class CheckResult(Wire):
    address: str
    suppressed: bool
    reason: str | None
    scope: str | None
    error: str | None = Field(None, description="Present only when the address is invalid")


class CheckResponse(Wire):
    results: builtins.list[CheckResult]


# -- segments and mailings -------------------------------------------------------------------
class SegmentRules(Wire):
    list: Name
    include_domains: builtins.list[DomainRule] = Field(
        default_factory=builtins.list, max_length=500
    )
    exclude_domains: builtins.list[DomainRule] = Field(
        default_factory=builtins.list, max_length=500
    )


class DomainCount(Wire):
    domain: str
    count: int


class SegmentPreview(Wire):
    list: str
    include_domains: builtins.list[str]
    exclude_domains: builtins.list[str]
    total: int
    domains: builtins.list[DomainCount]


class MailingCreate(SegmentRules):
    name: FreeText


class MailingPublic(Wire):
    id: uuid.UUID
    name: str
    list: str
    include_domains: builtins.list[str]
    exclude_domains: builtins.list[str]
    status: str
    releases: int
    created_at: datetime
    released_at: datetime | None


class MailingDetail(MailingPublic):
    total: int = Field(description="Subscribed members matching the rules (before suppressions)")
    domains: builtins.list[DomainCount]


class RecipientRef(Wire):
    subscriber_id: uuid.UUID
    domain: str


class RecipientPage(Wire):
    items: builtins.list[RecipientRef]
    next: uuid.UUID | None = Field(description="Pass as ?after= for the next page")


class Reason(Wire):
    reason: FreeText


# -- reports and audit -----------------------------------------------------------------------
class SuppressionCount(Wire):
    reason: str
    scope: str = Field(description="global, or list")
    count: int


class AuditEntryPublic(Wire):
    seq: int
    id: uuid.UUID
    at: datetime
    actor: str
    role: str
    tag: str
    subject: str
    details: dict[str, Any]
    key_id: str


class AuditPage(Wire):
    entries: builtins.list[AuditEntryPublic]
    next: int | None = Field(description="Pass as ?after= for the next page")


class ChainPublic(Wire):
    ok: bool
    entries: int
    first_broken_seq: int | None
    problem: str | None
    detail: str
