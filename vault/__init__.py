"""mailvault: a privacy-preserving subscriber and suppression store for email senders.

Embedding in a sending pipeline::

    import vault

    store = vault.open_store()                      # settings from MAILVAULT_* / --config
    store.check(["someone@example.com"], list_name="news")
"""

from __future__ import annotations

from pathlib import Path

from vault import store
from vault.addresses import NORMALIZATION_VERSION, Address, parse_address
from vault.clock import Clock, FixedClock, SystemClock
from vault.config import Settings, load_settings
from vault.errors import (
    Conflict,
    InvalidAddress,
    InvalidCiphertext,
    KeyringError,
    MailvaultError,
    NotFound,
    PermissionDenied,
)
from vault.store import CheckAnswer, Vault
from vault.subscribers.models import ConsentMethod, SubscriberStatus
from vault.suppressions.models import SuppressionReason


def open_store(
    settings: Settings | None = None, *, config_file: Path | None = None, clock: Clock | None = None
) -> Vault:
    """Open the store named by ``settings`` (default: environment and optional TOML file)."""
    return Vault.open(settings or load_settings(config_file=config_file), clock=clock)


__all__ = [
    "NORMALIZATION_VERSION",
    "Address",
    "CheckAnswer",
    "Clock",
    "Conflict",
    "ConsentMethod",
    "FixedClock",
    "InvalidAddress",
    "InvalidCiphertext",
    "KeyringError",
    "MailvaultError",
    "NotFound",
    "PermissionDenied",
    "Settings",
    "SubscriberStatus",
    "SuppressionReason",
    "SystemClock",
    "Vault",
    "load_settings",
    "open_store",
    "parse_address",
    "store",
]
