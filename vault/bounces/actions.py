"""The suppression action table of SPEC §5: what one classified report asks the caller to do.

Pure: the caller holds the history (a second hard bounce on another day, N temporary failures
in a window) and decides; this module only says which rule applies.
"""

from __future__ import annotations

from enum import StrEnum

from vault.bounces.model import Group, Reason, group_of
from vault.bounces.providers import is_consumer_provider


class Action(StrEnum):
    """What a report asks for, per SPEC §5."""

    CONFIRM = "confirm"  # suppress only after a second hard bounce on a different day
    COUNT = "count"  # temporary: count; N in a window become an expiring suppression
    DOMAIN = "domain"  # not the recipient's fault: count against the domain, never suppress
    IGNORE = "ignore"  # auto-replies, successful delivery reports
    SUPPRESS = "suppress"  # suppress until explicit re-consent


# Reasons that are permanent whoever hosts the mailbox.
_ALWAYS_SUPPRESS = frozenset(
    {Reason.COMPLAINT, Reason.HAS_MOVED, Reason.NOT_ACCEPT, Reason.BAD_ADDRESS}
)
# Reasons that corporate filters fake; trusted at once only from consumer providers.
_CONFIRM_UNLESS_CONSUMER = frozenset({Reason.USER_UNKNOWN, Reason.HOST_UNKNOWN})
_BY_GROUP = {
    Group.TEMPORARY: Action.COUNT,
    Group.NOT_RECIPIENT: Action.DOMAIN,
    Group.IGNORE: Action.IGNORE,
}


def base_action(reason: Reason, recipient_domain: str) -> Action:
    """The action for one report about an address at ``recipient_domain``."""
    if reason in _ALWAYS_SUPPRESS:
        return Action.SUPPRESS
    if reason in _CONFIRM_UNLESS_CONSUMER:
        return Action.SUPPRESS if is_consumer_provider(recipient_domain) else Action.CONFIRM
    group = group_of(reason)
    # Any other permanent-group reason added later suppresses: failing safe means no more mail.
    return _BY_GROUP.get(group, Action.SUPPRESS)
