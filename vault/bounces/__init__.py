"""Bounce and complaint parsing: raw reports in, classified recipients and suppression actions out.

Pure functions over bytes (``parse_message``), with no database code; see SPEC §5.
"""

from vault.bounces.actions import Action, base_action
from vault.bounces.classify import classify
from vault.bounces.model import BouncedRecipient, Group, Kind, ParsedMessage, Reason, group_of
from vault.bounces.parser import parse_message
from vault.bounces.providers import CONSUMER_PROVIDERS, is_consumer_provider
from vault.bounces.redact import redact_diagnostic
from vault.bounces.sources import iter_messages

__all__ = [
    "CONSUMER_PROVIDERS",
    "Action",
    "BouncedRecipient",
    "Group",
    "Kind",
    "ParsedMessage",
    "Reason",
    "base_action",
    "classify",
    "group_of",
    "is_consumer_provider",
    "iter_messages",
    "parse_message",
    "redact_diagnostic",
]
