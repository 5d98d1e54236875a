"""An in-memory copy of the suppression list for checks at MTA speed.

Entries are kept as 64-bit digest prefixes in an open-addressing table of two flat arrays
(12 bytes a slot, ~20 bytes an entry at the table's load), so ten million entries take about
200 MB instead of the gigabyte a Python set of digests would. A prefix match is treated as a
match: with 10^7 entries a random address collides with probability ~5e-13, and a collision
errs towards not mailing, never towards mailing a suppressed person.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vault.suppressions.models import GLOBAL_SCOPE, REASON_PRECEDENCE, Suppression

_REASONS = [str(r) for r in REASON_PRECEDENCE]
_REASON_INDEX = {name: i for i, name in enumerate(_REASONS)}
_OTHER_REASON = len(_REASONS)  # a reason name this version does not know: ranks last
_MAX_LOAD = 0.6


# The first eight bytes of a digest as a little-endian integer, without slicing a copy.
_FIRST_WORD = struct.Struct("<Q").unpack_from


def _prefix(digest: bytes) -> int:
    # Never 0: 0 marks an empty slot.
    return _FIRST_WORD(digest)[0] or 1


class SuppressionSnapshot:
    """Digest prefixes with (scope, reason) payloads; several entries per address allowed."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 1024
        while size * _MAX_LOAD < capacity:
            size *= 2
        self._keys = array("Q", bytes(8 * size))
        self._payload = array("I", bytes(4 * size))
        self._mask = size - 1
        self._count = 0
        self._scopes: list[str] = [GLOBAL_SCOPE]
        self._scope_index: dict[str, int] = {GLOBAL_SCOPE: 0}
        self._reason_names: list[str] = [*_REASONS, "other"]

    def __len__(self) -> int:
        return self._count

    @property
    def memory_bytes(self) -> int:
        return len(self._keys) * 8 + len(self._payload) * 4

    def _scope_id(self, scope: str) -> int:
        index = self._scope_index.get(scope)
        if index is None:
            index = self._scope_index[scope] = len(self._scopes)
            self._scopes.append(scope)
        return index

    def add(self, digest: bytes, *, scope: str, reason: str) -> bool:
        """Add one entry; False when exactly this entry is there already."""
        payload = (self._scope_id(scope) << 4) | _REASON_INDEX.get(reason, _OTHER_REASON)
        key = _prefix(digest)
        keys, payloads, mask = self._keys, self._payload, self._mask
        slot = key & mask
        while keys[slot]:
            if keys[slot] == key and payloads[slot] == payload:
                return False  # the same entry again (overlapping refreshes)
            slot = (slot + 1) & mask
        keys[slot] = key
        payloads[slot] = payload
        self._count += 1
        if self._count > (mask + 1) * _MAX_LOAD:
            self._grow()
        return True

    def copy(self) -> SuppressionSnapshot:
        """An independent copy (two array copies), so one can be changed while the other is read."""
        twin = SuppressionSnapshot.__new__(SuppressionSnapshot)
        twin._keys = array("Q", self._keys)
        twin._payload = array("I", self._payload)
        twin._mask = self._mask
        twin._count = self._count
        twin._scopes = list(self._scopes)
        twin._scope_index = dict(self._scope_index)
        twin._reason_names = self._reason_names
        return twin

    def _grow(self) -> None:
        old_keys, old_payload = self._keys, self._payload
        size = (self._mask + 1) * 2
        self._keys = array("Q", bytes(8 * size))
        self._payload = array("I", bytes(4 * size))
        self._mask = size - 1
        keys, payloads, mask = self._keys, self._payload, self._mask
        for key, payload in zip(old_keys, old_payload, strict=True):
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                payloads[slot] = payload

    def scope_ids(self, scopes: Sequence[str]) -> frozenset[int]:
        """The internal ids of scopes, for ``best``; compute once per caller, not per check."""
        return frozenset(self._scope_index[s] for s in scopes if s in self._scope_index)

    def best(self, digests: Iterable[bytes], scope_ids: frozenset[int]) -> tuple[str, str] | None:
        """(reason, scope) of the weightiest entry matching any digest within the scopes."""
        keys, payloads, mask = self._keys, self._payload, self._mask
        best_payload = -1
        best_rank = 1 << 8
        for digest in digests:
            key = _FIRST_WORD(digest)[0] or 1
            slot = key & mask
            probe = keys[slot]
            while probe:
                if probe == key:
                    payload = payloads[slot]
                    rank = payload & 0xF
                    if rank < best_rank and (payload >> 4) in scope_ids:
                        best_rank, best_payload = rank, payload
                slot = (slot + 1) & mask
                probe = keys[slot]
        if best_payload < 0:
            return None
        return self._reason_names[best_payload & 0xF], self._scopes[best_payload >> 4]

    def contains(self, digest: bytes) -> bool:
        """Any entry, any scope: the fast yes/no for a global-only caller."""
        key = _prefix(digest)
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            probe = keys[slot]
            if not probe:
                return False
            if probe == key:
                return True
            slot = (slot + 1) & mask


def load_snapshot(
    session: Session,
    *,
    now: datetime,
    into: SuppressionSnapshot | None = None,
    created_since: datetime | None = None,
    batch: int = 50_000,
) -> SuppressionSnapshot:
    """Read active suppression entries (all, or those created since a time) into a snapshot."""
    statement = select(Suppression.digest, Suppression.scope, Suppression.reason).where(
        or_(Suppression.expires_at.is_(None), Suppression.expires_at > now)
    )
    if created_since is not None:
        statement = statement.where(Suppression.created_at >= created_since)
    snapshot = into or SuppressionSnapshot()
    result = session.execute(statement.execution_options(yield_per=batch))
    for digest, scope, reason in result:
        snapshot.add(digest, scope=scope, reason=reason)
    return snapshot
