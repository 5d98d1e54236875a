"""Who may do what: roles (SPEC §1) mapped to permissions, as one table of data.

A permission is named ``resource:action``; a route declares the one it needs and a principal
holds it when any of its roles grants it. Tests walk this table against every route.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    MARKETING = "marketing"
    SENDER = "sender"
    SUPPORT = "support"


class Permission(StrEnum):
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    LIST_CREATE = "list:create"
    LIST_READ = "list:read"
    MAILING_CREATE = "mailing:create"
    MAILING_OVERRIDE = "mailing:override"  # allow one more release of a released mailing
    MAILING_READ = "mailing:read"
    MAILING_RELEASE = "mailing:release"  # the one path to plaintext addresses
    PRINCIPAL_CREATE = "principal:create"
    PRINCIPAL_READ = "principal:read"
    PRINCIPAL_REVOKE = "principal:revoke"
    REPORT_READ = "report:read"
    SEGMENT_PREVIEW = "segment:preview"
    SUBJECT_ERASE = "subject:erase"
    SUBSCRIBER_CREATE = "subscriber:create"
    SUBSCRIBER_LOOKUP = "subscriber:lookup"
    SUBSCRIBER_UNSUBSCRIBE = "subscriber:unsubscribe"
    SUPPRESSION_ADD = "suppression:add"
    SUPPRESSION_CHECK = "suppression:check"
    SUPPRESSION_REMOVE = "suppression:remove"
    # Removing complaint, erasure and unsubscribe entries: a legal decision, not a support one.
    SUPPRESSION_REMOVE_PROTECTED = "suppression:remove_protected"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # The MTA hook: check, report outcomes as suppressions, release a mailing at send time.
    Role.SENDER: frozenset({P.MAILING_RELEASE, P.SUPPRESSION_ADD, P.SUPPRESSION_CHECK}),
    # Campaign builders: lists, segments, mailings, counts; ids and domains, never local parts.
    Role.MARKETING: frozenset(
        {
            P.LIST_CREATE,
            P.LIST_READ,
            P.MAILING_CREATE,
            P.MAILING_READ,
            P.REPORT_READ,
            P.SEGMENT_PREVIEW,
            P.SUBSCRIBER_CREATE,
            P.SUBSCRIBER_UNSUBSCRIBE,
        }
    ),
    # Customer service: one address they were given at a time; no listing, no paging.
    Role.SUPPORT: frozenset(
        {P.SUBSCRIBER_LOOKUP, P.SUBSCRIBER_UNSUBSCRIBE, P.SUPPRESSION_ADD, P.SUPPRESSION_REMOVE}
    ),
    # Privacy and legal: audit, erasure, overrides, and the suppressions nobody else may lift.
    Role.COMPLIANCE: frozenset(
        {
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.MAILING_OVERRIDE,
            P.SUBJECT_ERASE,
            P.SUBSCRIBER_LOOKUP,
            P.SUPPRESSION_ADD,
            P.SUPPRESSION_REMOVE,
            P.SUPPRESSION_REMOVE_PROTECTED,
        }
    ),
    # Operators: principals (and keys, from the command line); never decryption.
    Role.ADMIN: frozenset({P.PRINCIPAL_CREATE, P.PRINCIPAL_READ, P.PRINCIPAL_REVOKE}),
}


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def granting_role(roles: Iterable[Role], permission: Permission) -> Role | None:
    """The first role (alphabetically) that grants the permission: what the audit log names."""
    for role in sorted(roles):
        if permission in ROLE_PERMISSIONS[role]:
            return role
    return None


def roles_with(permission: Permission) -> frozenset[Role]:
    return frozenset(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)
