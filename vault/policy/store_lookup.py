"""The store behind the policy service: an in-memory copy of the suppression list, kept fresh
by background threads, answering ``SuppressionLookup.lookup`` without touching the database.

Lookups run on the event loop and take no lock. Two threads build new tables beside the one
in use and swap a single reference:

* the refresher, every ``refresh_interval`` (0.5 s), reads the entries created since its last
  successful read minus ``short_overlap`` (2 s), and every ``wide_every``-th time (5 s) minus
  ``overlap`` (60 s: clock skew between writers, late commits), into a copy of the small *delta*
  table, so a suppression written anywhere reaches the lookups within ~1 s. Re-reading a whole
  minute every half second would cost a burst of a million new entries dearly;
* the rebuilder, every ``rebuild_interval`` (60 s), reads the whole list into a new *base* table
  and starts a new delta, which drops removed and expired entries.

If no read has succeeded for ``max_staleness`` (5 s), ``lookup`` raises ``StoreUnavailable``
(Postfix then defers), and answers again as soon as a read succeeds. Failures are logged by
exception type only: a driver's message can quote a statement's parameters.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, NullPool, or_, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from vault.crypto import KeySuite
from vault.db import make_engine, normalize_url
from vault.policy.lookup import NOT_SUPPRESSED, LookupResult, StoreUnavailable
from vault.store import Vault
from vault.subscribers.models import MailingList
from vault.suppressions.models import GLOBAL_SCOPE, REASON_PRECEDENCE, Suppression
from vault.suppressions.snapshot import SuppressionSnapshot, load_snapshot

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "DEFAULT_OVERLAP",
    "DEFAULT_REBUILD_INTERVAL",
    "DEFAULT_REFRESH_INTERVAL",
    "DEFAULT_SHORT_OVERLAP",
    "DEFAULT_WIDE_EVERY",
    "StoreLookup",
    "lookup_engine",
]

log = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL = 0.5
DEFAULT_REBUILD_INTERVAL = 60.0
DEFAULT_MAX_STALENESS = 5.0
DEFAULT_OVERLAP = 60.0
DEFAULT_SHORT_OVERLAP = 2.0
DEFAULT_WIDE_EVERY = 10
#: How long a failing refresher waits before it logs the same failure again.
_REPEAT_FAILURE_LOG = 60.0

# Lower rank = weightier reason; names the snapshot does not know rank last.
_RANK = {str(reason): rank for rank, reason in enumerate(REASON_PRECEDENCE)}
_UNRANKED = len(_RANK)

Digests = Callable[[str], list[bytes]]
ScopeIds = tuple[frozenset[int], frozenset[int]]  # (in base, in delta)


def lookup_engine(database_url: str) -> Engine:
    """An engine fit for the policy service's reads.

    SQLite: read-only, and a fresh connection for every read, so that a database file that is
    replaced, moved or deleted is noticed at once instead of being read on through an open file
    descriptor for ever. PostgreSQL: short connect timeout and TCP keepalives, so that a dead
    server or a cut network fails a read within seconds instead of hanging the refresher.
    """
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or path.startswith("file:"):
            return make_engine(url.render_as_string(hide_password=False), poolclass=NullPool)
        # A URI filename: only these three characters would be read as URI syntax.
        escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        read_only = URL.create(
            url.drivername,
            database=f"file:{escaped}",
            query={"mode": "ro", "uri": "true"},
        )
        return make_engine(read_only.render_as_string(hide_password=False), poolclass=NullPool)
    return make_engine(
        url.render_as_string(hide_password=False),
        connect_args={
            "connect_timeout": 3,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": 10_000,
        },
    )


@dataclass(frozen=True, slots=True)
class _View:
    """What lookups read: one immutable object, replaced whole."""

    base: SuppressionSnapshot
    delta: SuppressionSnapshot
    # Scope ids per list name (None: global only), in base and in delta.
    scopes: dict[str | None, ScopeIds]
    # Store clock time at which the newest successful read began.
    read_at: datetime
    # Monotonic time at which the newest successful read began.
    fresh_at: float


class StoreLookup:
    """``SuppressionLookup`` over a ``Vault``'s suppression list, held in memory.

    ``start()`` runs the refresher and rebuilder threads; ``rebuild()`` and ``refresh()`` are the
    same steps, synchronous, for tests and tools. ``replace_store_keys`` is the hook for a
    keyring reload (SIGHUP).
    """

    def __init__(
        self,
        store: Vault,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        rebuild_interval: float = DEFAULT_REBUILD_INTERVAL,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        overlap: float = DEFAULT_OVERLAP,
        short_overlap: float = DEFAULT_SHORT_OVERLAP,
        wide_every: int = DEFAULT_WIDE_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_interval <= 0 or rebuild_interval <= 0 or wide_every < 1:
            raise ValueError("refresh and rebuild intervals must be positive")
        if not 0 <= short_overlap <= overlap:
            raise ValueError("overlaps must not be negative, the short one not the longer")
        if max_staleness <= refresh_interval:
            raise ValueError("max_staleness must be longer than the refresh interval")
        self._store = store
        self._refresh_interval = refresh_interval
        self._rebuild_interval = rebuild_interval
        self._max_staleness = max_staleness
        self._overlap = timedelta(seconds=overlap)
        self._short_overlap = timedelta(seconds=short_overlap)
        self._wide_every = wide_every
        self._refreshes = 0
        self._monotonic = monotonic
        self._view: _View | None = None
        self._digests: Digests = store.keys.suppression.digests
        self._publish = threading.Lock()
        self._key_generation = 0
        self._pending_digests: Digests | None = None
        self._unknown_scopes_logged: set[str] = set()
        self._stop = threading.Event()
        self._rebuild_now = threading.Event()
        self._loaded = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the lookup (event loop) ---------------------------------------------------------------

    def lookup(self, canonical_address: str, *, scope: str | None) -> LookupResult:
        view = self._view
        if view is None:
            raise StoreUnavailable("the suppression list is not loaded yet")
        if self._monotonic() - view.fresh_at > self._max_staleness:
            raise StoreUnavailable("the suppression list could not be refreshed in time")
        scope_ids = view.scopes.get(scope)
        if scope_ids is None:
            scope_ids = self._unknown_scope(view, scope)
        digests = self._digests(canonical_address)
        found = view.base.best(digests, scope_ids[0])
        if len(view.delta):
            newer = view.delta.best(digests, scope_ids[1])
            if newer is not None and (
                found is None or _RANK.get(newer[0], _UNRANKED) < _RANK.get(found[0], _UNRANKED)
            ):
                found = newer
        if found is None:
            return NOT_SUPPRESSED
        return LookupResult(suppressed=True, reason=found[0])

    def _unknown_scope(self, view: _View, scope: str | None) -> ScopeIds:
        # No such list (yet): no list entry can exist for it, so global entries are the answer.
        # Said once per name, since a typo in a scope rule or map name would otherwise hide.
        if scope is not None and scope not in self._unknown_scopes_logged:
            self._unknown_scopes_logged.add(scope)
            log.warning("scope %r names no list in the store: checking global entries only", scope)
        return view.scopes[None]

    # -- state for callers ---------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._view is not None

    def __len__(self) -> int:
        view = self._view
        return 0 if view is None else len(view.base) + len(view.delta)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the tables in use (a rebuild briefly holds a second base beside it)."""
        view = self._view
        return 0 if view is None else view.base.memory_bytes + view.delta.memory_bytes

    def staleness(self) -> float | None:
        """Seconds since the newest successful read began, or None before the first."""
        view = self._view
        return None if view is None else self._monotonic() - view.fresh_at

    def wait_loaded(self, timeout: float | None = None) -> bool:
        return self._loaded.wait(timeout)

    # -- the keyring hook ----------------------------------------------------------------------

    def replace_store_keys(self, keys: KeySuite) -> None:
        """Switch to a reloaded keyring's suppression keys (the SIGHUP hook).

        Until a full rebuild that began after this call has finished, lookups hash under the
        old and the new live keys together: entries moved to a new key since the last rebuild,
        or still under a key the new keyring retired, keep matching in the meantime.
        """
        new = keys.suppression.digests
        old = self._digests

        def both(canonical: str) -> list[bytes]:
            return list(dict.fromkeys([*new(canonical), *old(canonical)]))

        with self._publish:
            self._key_generation += 1
            self._pending_digests = new
            self._digests = both
        self.request_rebuild()

    # -- the two reads -------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Read the whole list into a new base table and swap it in; raises on failure."""
        with self._publish:
            generation = self._key_generation
        previous = self._view
        capacity = int(len(previous.base) * 1.1) if previous is not None else 1024
        started = self._monotonic()
        with self._store.read() as session:
            now = self._store.now()
            base = load_snapshot(session, now=now, into=SuppressionSnapshot(capacity))
        # Entries created while the base was read, or committed late, go into a new delta.
        delta_started = self._monotonic()
        with self._store.read() as session:
            delta_now = self._store.now()
            lists = _list_ids(session)
            delta = SuppressionSnapshot()
            _add_all(delta, _entries_since(session, now=delta_now, since=now - self._overlap))
        view = _view(base, delta, lists, delta_now, delta_started)
        with self._publish:
            self._view = view
            if self._pending_digests is not None and generation == self._key_generation:
                self._digests, self._pending_digests = self._pending_digests, None
        self._loaded.set()
        log.info(
            "suppression list loaded: %d entries (%d of the last minute read again), "
            "%.1f MB in memory, in %.2fs",
            len(base),
            len(delta),
            (base.memory_bytes + delta.memory_bytes) / 1e6,
            self._monotonic() - started,
        )

    def refresh(self) -> bool:
        """Read entries created since the last read (minus the overlap) into a new delta.

        Returns True when the view changed. Does a full rebuild if nothing is loaded yet.
        """
        view = self._view
        if view is None:
            self.rebuild()
            return True
        self._refreshes += 1
        wide = self._refreshes % self._wide_every == 0
        since = view.read_at - (self._overlap if wide else self._short_overlap)
        started = self._monotonic()
        with self._store.read() as session:
            now = self._store.now()
            lists = _list_ids(session)
            rows = list(_entries_since(session, now=now, since=since))
        delta = view.delta
        if rows:
            candidate = delta.copy()
            if _add_all(candidate, rows):
                delta = candidate
        new_view = _view(view.base, delta, lists, now, started)
        with self._publish:
            if self._view is not view:
                return False  # a rebuild was published meanwhile; it is newer than this read
            self._view = new_view
        return True

    def request_rebuild(self) -> None:
        self._rebuild_now.set()

    # -- the threads ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("a StoreLookup starts once")
        for name, target in (
            ("mailvault-rebuild", self._rebuild_loop),
            ("mailvault-refresh", self._refresh_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._rebuild_now.set()
        for thread in self._threads:
            thread.join(timeout)

    def _rebuild_loop(self) -> None:
        failures = _FailureLog("full reload of the suppression list")
        while not self._stop.is_set():
            self._rebuild_now.clear()
            try:
                self.rebuild()
            except Exception as exc:
                failures.failed(exc, self._monotonic())
                # Retry soon: until the first load succeeds every answer is "try later".
                self._rebuild_now.wait(min(self._max_staleness, self._rebuild_interval))
                continue
            failures.recovered()
            self._rebuild_now.wait(self._rebuild_interval)

    def _refresh_loop(self) -> None:
        failures = _FailureLog("refresh of the suppression list")
        while not self._stop.wait(self._refresh_interval):
            if self._view is None:
                continue  # the rebuilder makes the first load
            try:
                self.refresh()
            except Exception as exc:
                failures.failed(exc, self._monotonic())
                continue
            failures.recovered()


class _FailureLog:
    """Logs the first failure of a run, a reminder now and then, and the recovery."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._failures = 0
        self._last_logged = 0.0

    def failed(self, exc: Exception, now: float) -> None:
        self._failures += 1
        if self._failures == 1 or now - self._last_logged >= _REPEAT_FAILURE_LOG:
            self._last_logged = now
            # The type only: the message of a driver error can hold a statement's parameters.
            log.error(
                "%s failed (%s, %d time(s) in a row); lookups defer mail once the copy in "
                "memory is too old",
                self._what,
                type(exc).__name__,
                self._failures,
            )

    def recovered(self) -> None:
        if self._failures:
            log.warning("%s works again after %d failure(s)", self._what, self._failures)
            self._failures = 0


def _list_ids(session: Session) -> dict[str, str]:
    return {
        name: str(list_id)
        for list_id, name in session.execute(select(MailingList.id, MailingList.name))
        if isinstance(list_id, uuid.UUID)
    }


def _entries_since(
    session: Session, *, now: datetime, since: datetime
) -> Iterable[tuple[bytes, str, str]]:
    statement = select(Suppression.digest, Suppression.scope, Suppression.reason).where(
        Suppression.created_at >= since,
        or_(Suppression.expires_at.is_(None), Suppression.expires_at > now),
    )
    for digest, scope, reason in session.execute(statement):
        yield bytes(digest), scope, reason


def _add_all(snapshot: SuppressionSnapshot, rows: Iterable[tuple[bytes, str, str]]) -> bool:
    added = False
    for digest, scope, reason in rows:
        added = snapshot.add(digest, scope=scope, reason=reason) or added
    return added


def _view(
    base: SuppressionSnapshot,
    delta: SuppressionSnapshot,
    lists: dict[str, str],
    read_at: datetime,
    fresh_at: float,
) -> _View:
    def ids(list_id: str | None) -> ScopeIds:
        scopes = [GLOBAL_SCOPE] if list_id is None else [GLOBAL_SCOPE, list_id]
        return base.scope_ids(scopes), delta.scope_ids(scopes)

    scopes: dict[str | None, ScopeIds] = {None: ids(None)}
    for name, list_id in lists.items():
        scopes[name] = ids(list_id)
    return _View(base, delta, scopes, read_at, fresh_at)
