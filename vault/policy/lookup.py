"""What the policy service needs from the suppression store: one synchronous lookup.

The store implements ``SuppressionLookup``; the policy code depends on nothing else of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vault.errors import MailvaultError

__all__ = ["NOT_SUPPRESSED", "LookupResult", "StoreUnavailable", "SuppressionLookup"]


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The store's answer for one canonical address.

    ``reason`` is the suppression's reason class ("unsubscribe", "complaint", "hard_bounce",
    "soft_bounce", "erasure", "manual"), or None when the address is not suppressed.
    """

    suppressed: bool
    reason: str | None = None


NOT_SUPPRESSED = LookupResult(suppressed=False, reason=None)


class StoreUnavailable(MailvaultError):
    """The store cannot answer now (not loaded, being swapped, backend down).

    The policy service turns it into a temporary failure, never into "not suppressed".
    """


class SuppressionLookup(Protocol):
    """Answers whether a canonical address is suppressed, globally or for one list.

    ``scope`` is a list name, or None for the global suppression list. Implementations should be
    fast and non-blocking (an in-memory digest table); one that may block must say so, and the
    server is then started with ``lookup_in_thread=True``.
    """

    def lookup(self, canonical_address: str, *, scope: str | None) -> LookupResult:
        """Return the suppression state, or raise ``StoreUnavailable``."""
        ...
