"""A test double of the suppression store: a dict from canonical address to reason, a
per-list dict, a switch that makes every lookup raise StoreUnavailable, and an optional gate
that holds lookups until a test lets them go. Thread-safe, since the e2e tests change it from
the test thread while the server's loop reads it from another.
"""

from __future__ import annotations

import threading

from vault.addresses import parse_address
from vault.policy.lookup import NOT_SUPPRESSED, LookupResult, StoreUnavailable


class MemoryLookup:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global: dict[str, str] = {}
        self._lists: dict[tuple[str, str], str] = {}
        self.unavailable = False
        self.scopes_seen: list[str | None] = []
        self.calls = 0
        # When set, a lookup announces itself on `entered` and waits for `release`.
        self.gate: tuple[threading.Event, threading.Event] | None = None

    def suppress(self, address: str, reason: str, *, scope: str | None = None) -> None:
        canonical = parse_address(address).canonical
        with self._lock:
            if scope is None:
                self._global[canonical] = reason
            else:
                self._lists[(scope, canonical)] = reason

    def lookup(self, canonical_address: str, *, scope: str | None) -> LookupResult:
        gate = self.gate
        if gate is not None:
            entered, release = gate
            entered.set()
            release.wait(timeout=30)
        with self._lock:
            self.calls += 1
            self.scopes_seen.append(scope)
            if self.unavailable:
                raise StoreUnavailable("the test store is switched off")
            reason = self._global.get(canonical_address)
            if reason is None and scope is not None:
                reason = self._lists.get((scope, canonical_address))
        if reason is None:
            return NOT_SUPPRESSED
        return LookupResult(suppressed=True, reason=reason)
