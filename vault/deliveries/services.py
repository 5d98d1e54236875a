"""Recording delivery outcomes and applying the action table of SPEC §5 against stored state.

``base_action`` (``vault.bounces``) says which rule applies to one report; this module holds
the history that rules need (a first hard bounce waiting for confirmation on another day, soft
bounces in a window), writes the suppressions that result, and stores each outcome without the
address. Everything happens in the caller's transaction; time is passed in.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, inspect, select
from sqlalchemy.orm import Session

from vault.addresses import NORMALIZATION_VERSION, Address
from vault.bounces import Action, Reason, redact_diagnostic
from vault.crypto import KeySuite
from vault.deliveries.models import DIAGNOSTIC_CHARS, BounceState, DeliveryOutcome, Taken
from vault.deliveries.reports import Report
from vault.errors import ConfigError
from vault.subscribers.models import Subscriber
from vault.suppressions import services as suppressions
from vault.suppressions.models import SuppressionReason

QUERY_CHUNK = suppressions.QUERY_CHUNK
REDACTED = "<redacted>"


# -- settings ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BouncePolicy:
    """The numbers of SPEC §5's temporary rule, from the TOML table ``[bounces]``."""

    soft_threshold: int = 3  # this many soft bounces ...
    soft_window_days: int = 14  # ... within this many days of the first ...
    soft_suppression_days: int = 30  # ... suppress for this long

    @classmethod
    def from_sections(cls, sections: Mapping[str, Any]) -> BouncePolicy:
        table = sections.get("bounces", {})
        if not isinstance(table, Mapping):
            raise ConfigError("[bounces] must be a table")
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) in [bounces]: {', '.join(unknown)}")
        values: dict[str, int] = {}
        for name, value in table.items():
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3650:
                raise ConfigError(f"[bounces] {name} must be a whole number from 1 to 3650")
            values[name] = value
        return cls(**values)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.soft_window_days)

    def soft_expiry(self, now: datetime) -> datetime:
        return now + timedelta(days=self.soft_suppression_days)


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decision:
    """What one report led to."""

    action: Action  # the rule (SPEC §5) that applied
    taken: Taken  # what was done, given the stored state
    suppression: SuppressionReason | None = None
    outcome_id: uuid.UUID | None = None  # the stored outcome, if one was stored
    subscriber_id: uuid.UUID | None = None


@dataclass
class Tally:
    """Counts over many reports, for summaries and audit entries (never addresses)."""

    reports: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    by_taken: Counter[str] = field(default_factory=Counter)
    suppressions_added: Counter[str] = field(default_factory=Counter)
    outcomes_stored: int = 0

    def add(self, other: Tally) -> None:
        self.reports += other.reports
        self.by_action.update(other.by_action)
        self.by_taken.update(other.by_taken)
        self.suppressions_added.update(other.suppressions_added)
        self.outcomes_stored += other.outcomes_stored

    def as_details(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "by_action": dict(sorted(self.by_action.items())),
            "by_taken": dict(sorted(self.by_taken.items())),
            "suppressions_added": dict(sorted(self.suppressions_added.items())),
            "outcomes_stored": self.outcomes_stored,
        }


# -- the decision path ------------------------------------------------------------------------
def record_report(
    session: Session, *, keys: KeySuite, report: Report, policy: BouncePolicy, now: datetime
) -> Decision:
    return record_reports(session, keys=keys, reports=[report], policy=policy, now=now)[0][0]


def record_reports(
    session: Session,
    *,
    keys: KeySuite,
    reports: Sequence[Report],
    policy: BouncePolicy,
    now: datetime,
) -> tuple[list[Decision], Tally]:
    """Apply the action table to a batch of reports, in order, in the caller's transaction.

    One query each for the subscribers and the bounce states the batch touches, one
    ``suppress_many`` per kind of suppression, one insert for the outcomes.
    """
    personal = [r for r in reports if r.action is not Action.DOMAIN and not _ignored(r)]
    canonicals = list(dict.fromkeys(r.address.canonical for r in personal))
    subscribers = _subscribers(session, keys=keys, canonicals=canonicals)
    states = _states(session, keys=keys, canonicals=canonicals)
    live_digests = [_live_report_digests(keys, r) for r in reports]
    report_digests = [live[0] if live else None for live in live_digests]
    seen = _seen_reports(session, live_digests=live_digests)

    tally = Tally(reports=len(reports))
    decisions: list[Decision] = []
    outcomes: list[dict[str, Any]] = []
    to_suppress: dict[tuple[SuppressionReason, datetime | None, str], dict[str, Address]] = {}
    touched: dict[str, _State] = {}
    for report, report_digest in zip(reports, report_digests, strict=True):
        canonical = report.address.canonical
        tally.by_action[report.action.value] += 1
        if report_digest is not None and report_digest in seen:
            # Ingested before (a mailbox read twice, an event retried): counting it again
            # would make one bounce look like two, on two days, and suppress a good address.
            tally.by_taken[Taken.DUPLICATE.value] += 1
            decisions.append(Decision(report.action, Taken.DUPLICATE))
            continue
        if _ignored(report):
            taken, suppression = Taken.IGNORED, None
        elif report.delivered:
            # A success clears the soft-bounce count and a pending confirmation; with nothing
            # to clear it is ignored (successes are not stored: they would be most of the rows).
            # One that cleared something is stored, so that reading it again clears nothing.
            state = states.get(canonical)
            taken, suppression = Taken.IGNORED, None
            if state is not None and not state.empty:
                state.clear()
                touched[canonical] = state
                taken = Taken.RESET
        elif report.action is Action.DOMAIN:
            taken, suppression = Taken.DOMAIN, None
        else:
            state = states.get(canonical)
            if state is None:
                state = states[canonical] = _State.new(keys, canonical, now)
            touched[canonical] = state
            taken, suppression = _decide(report, state, policy)
        tally.by_taken[taken.value] += 1
        expires_at = (
            policy.soft_expiry(now) if suppression is SuppressionReason.SOFT_BOUNCE else None
        )
        if suppression is not None:
            key = (suppression, expires_at, report.source.value)
            to_suppress.setdefault(key, {})[canonical] = report.address
        outcome_id = None
        subscriber_id = None
        if taken is not Taken.IGNORED:
            outcome_id = uuid.uuid4()
            subscriber_id, list_id = None, report.list_id
            if taken is not Taken.DOMAIN:
                subscriber_id, list_id = _pick(subscribers.get(canonical, ()), report.list_id)
            outcomes.append(
                {
                    "id": outcome_id,
                    "subscriber_id": subscriber_id,
                    "list_id": list_id,
                    "domain": report.address.domain,
                    "status": report.status[:16] if report.status else None,
                    "reason": report.reason.value,
                    "group": report.group.value,
                    "action": taken.value,
                    "source": report.source.value,
                    "diagnostic": scrub_diagnostic(report.diagnostic, report.address),
                    "occurred_at": report.occurred_at,
                    "recorded_at": now,
                    "report_digest": report_digest,
                }
            )
            if report_digest is not None:
                seen.add(report_digest)  # the same report twice in one batch
        decisions.append(Decision(report.action, taken, suppression, outcome_id, subscriber_id))

    for (reason, expires_at, source), addresses in to_suppress.items():
        added = suppressions.suppress_many(
            session,
            keys=keys,
            addresses=list(addresses.values()),
            reason=reason,
            source=source,
            list_id=None,
            expires_at=expires_at,
            now=now,
        )
        tally.suppressions_added[reason.value] += added.added
    for state in touched.values():
        state.save(session, keys=keys, now=now)
    if outcomes:
        session.execute(insert(DeliveryOutcome), outcomes)
        tally.outcomes_stored = len(outcomes)
    session.flush()
    return decisions, tally


def _live_report_digests(keys: KeySuite, report: Report) -> list[bytes]:
    """The report's digest under every live index key, the primary's (the one stored) first."""
    if report.identity is None or _ignored(report):
        return []  # no identity, or never stored: never a duplicate of anything
    # The NUL marks this apart from an address digest (no address holds one).
    return keys.index.digests(f"report\x00{report.identity.hex()}")


def _seen_reports(session: Session, *, live_digests: Sequence[list[bytes]]) -> set[bytes]:
    """The primary-key digests of the reports already stored with an outcome. Outcomes stored
    under an older live index key count too, so a key rotation does not forget them."""
    primary_of = {digest: live[0] for live in live_digests for digest in live}
    found: set[bytes] = set()
    candidates = list(primary_of)
    for start in range(0, len(candidates), QUERY_CHUNK):
        chunk = candidates[start : start + QUERY_CHUNK]
        stored = session.scalars(
            select(DeliveryOutcome.report_digest).where(DeliveryOutcome.report_digest.in_(chunk))
        )
        found.update(primary_of[digest] for digest in stored if digest is not None)
    return found


def _ignored(report: Report) -> bool:
    return report.action is Action.IGNORE and not report.delivered


def _decide(
    report: Report, state: _State, policy: BouncePolicy
) -> tuple[Taken, SuppressionReason | None]:
    row = state.row
    day = report.occurred_at.astimezone(UTC).date()
    if report.action is Action.SUPPRESS:
        state.clear()
        if report.reason is Reason.COMPLAINT:
            return Taken.SUPPRESSED, SuppressionReason.COMPLAINT
        return Taken.SUPPRESSED, SuppressionReason.HARD_BOUNCE
    if report.action is Action.CONFIRM:
        if row.first_hard_bounce_on is None or row.first_hard_bounce_on == day:
            # Corporate filters send false hard bounces, often in bursts on one day: only a
            # second one on another day confirms that the mailbox is gone.
            row.first_hard_bounce_on = row.first_hard_bounce_on or day
            return Taken.PENDING, None
        state.clear()
        return Taken.SUPPRESSED, SuppressionReason.HARD_BOUNCE
    # Action.COUNT: N soft bounces within the window that starts at the first one.
    occurred = report.occurred_at
    start = row.window_started_at
    if start is None or not (start - policy.window < occurred < start + policy.window):
        row.window_started_at = occurred
        row.soft_count = 1
    elif row.last_soft_bounce_on != day:
        row.soft_count += 1
    row.last_soft_bounce_on = day
    if row.soft_count >= policy.soft_threshold:
        row.soft_count = 0
        row.window_started_at = None
        return Taken.SUPPRESSED, SuppressionReason.SOFT_BOUNCE
    return Taken.COUNTED, None


def _pick(
    found: Sequence[tuple[uuid.UUID, uuid.UUID]], list_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The subscriber an outcome is linked to: on the named list, else the oldest one."""
    if list_id is not None:
        return next((s for s, lst in found if lst == list_id), None), list_id
    return found[0] if found else (None, None)


def _subscribers(
    session: Session, *, keys: KeySuite, canonicals: Sequence[str]
) -> dict[str, list[tuple[uuid.UUID, uuid.UUID]]]:
    """(subscriber id, list id) per canonical address, oldest first, via the index digest."""
    owner: dict[bytes, str] = {}
    for canonical in canonicals:
        for keyed in keys.index.all_live(canonical):
            owner[keyed.digest] = canonical
    found: dict[str, list[tuple[datetime, uuid.UUID, uuid.UUID]]] = {}
    digests = list(owner)
    for start in range(0, len(digests), QUERY_CHUNK):
        rows = session.execute(
            select(
                Subscriber.index_digest, Subscriber.created_at, Subscriber.id, Subscriber.list_id
            ).where(Subscriber.index_digest.in_(digests[start : start + QUERY_CHUNK]))
        )
        for row in rows:
            found.setdefault(owner[row.index_digest], []).append(
                (row.created_at, row.id, row.list_id)
            )
    return {c: [(s, lst) for _, s, lst in sorted(rows)] for c, rows in found.items()}


# -- bounce state -----------------------------------------------------------------------------
class _State:
    """One address's bounce state while a batch is applied; saved (or deleted) at the end."""

    __slots__ = ("canonical", "row")

    def __init__(self, canonical: str, row: BounceState) -> None:
        self.canonical = canonical
        self.row = row

    @classmethod
    def new(cls, keys: KeySuite, canonical: str, now: datetime) -> _State:
        keyed = keys.suppression.primary(canonical)
        return cls(
            canonical,
            BounceState(
                id=uuid.uuid4(),
                digest=keyed.digest,
                key_id=keyed.key_id,
                normalization_version=NORMALIZATION_VERSION,
                first_hard_bounce_on=None,
                soft_count=0,
                window_started_at=None,
                last_soft_bounce_on=None,
                updated_at=now,
            ),
        )

    def clear(self) -> None:
        self.row.first_hard_bounce_on = None
        self.row.soft_count = 0
        self.row.window_started_at = None
        self.row.last_soft_bounce_on = None

    @property
    def empty(self) -> bool:
        return self.row.first_hard_bounce_on is None and not self.row.soft_count

    def save(self, session: Session, *, keys: KeySuite, now: datetime) -> None:
        persistent = inspect(self.row).persistent
        if self.empty:
            if persistent:
                session.delete(self.row)
            return
        self.row.updated_at = now
        if self.row.key_id != keys.suppression.primary_key_id:
            # Found under an older suppression key: written back under the primary one.
            keyed = keys.suppression.primary(self.canonical)
            self.row.digest, self.row.key_id = keyed.digest, keyed.key_id
            self.row.normalization_version = NORMALIZATION_VERSION
        if not persistent:
            session.add(self.row)


def _states(session: Session, *, keys: KeySuite, canonicals: Sequence[str]) -> dict[str, _State]:
    """The stored state of each address that has one, looked up under every live key."""
    owner: dict[bytes, tuple[int, str]] = {}
    for canonical in canonicals:
        for rank, keyed in enumerate(keys.suppression.all_live(canonical)):
            owner[keyed.digest] = (rank, canonical)
    best: dict[str, tuple[int, BounceState]] = {}
    digests = list(owner)
    for start in range(0, len(digests), QUERY_CHUNK):
        for row in session.scalars(
            select(BounceState).where(BounceState.digest.in_(digests[start : start + QUERY_CHUNK]))
        ):
            rank, canonical = owner[row.digest]
            if canonical not in best or rank < best[canonical][0]:
                best[canonical] = (rank, row)
    return {c: _State(c, row) for c, (_, row) in best.items()}


def bounce_state(session: Session, *, keys: KeySuite, canonical: str) -> BounceState | None:
    """The stored bounce state of one address (support, tests), or None."""
    state = _states(session, keys=keys, canonicals=[canonical]).get(canonical)
    return state.row if state else None


# -- diagnostics ------------------------------------------------------------------------------
def scrub_diagnostic(text: str | None, address: Address) -> str | None:
    """The diagnostic as it may be stored: every address and bracketed local part redacted by
    ``redact_diagnostic``, then the recipient's own local part wherever it still stands as a
    word (``unknown user: "kijitora"``), then cut to the column's length."""
    if not text:
        return None
    cleaned = redact_diagnostic(" ".join(text.split()))
    for local in {address.local_part, address.canonical.rpartition("@")[0]}:
        # The plain test first: a pattern per address would be compiled for every report.
        if local and local.lower() in cleaned.lower():
            cleaned = re.sub(
                rf"(?<![\w.+-]){re.escape(local)}(?![\w+-]|\.\w)", REDACTED, cleaned, flags=re.I
            )
    return cleaned[:DIAGNOSTIC_CHARS] or None


# -- erasure ----------------------------------------------------------------------------------
def forget(
    session: Session, *, keys: KeySuite, canonical: str, subscriber_ids: Iterable[uuid.UUID]
) -> int:
    """Erasure: delete the outcomes linked to these subscribers and the address's bounce
    state. Returns how many outcomes went."""
    ids = list(subscriber_ids)
    removed = 0
    for start in range(0, len(ids), QUERY_CHUNK):
        result = session.execute(
            delete(DeliveryOutcome).where(
                DeliveryOutcome.subscriber_id.in_(ids[start : start + QUERY_CHUNK])
            )
        )
        removed += int(result.rowcount)  # type: ignore[attr-defined]
    digests = [keyed.digest for keyed in keys.suppression.all_live(canonical)]
    session.execute(delete(BounceState).where(BounceState.digest.in_(digests)))
    return removed


def outcomes_for(session: Session, *, subscriber_id: uuid.UUID) -> list[DeliveryOutcome]:
    """A subscriber's outcomes, oldest first (subject access)."""
    return list(
        session.scalars(
            select(DeliveryOutcome)
            .where(DeliveryOutcome.subscriber_id == subscriber_id)
            .order_by(DeliveryOutcome.occurred_at)
        )
    )


def domain_counts(session: Session, *, since: datetime) -> list[tuple[str, str, int]]:
    """(domain, action taken, count) since a time: what the per-domain reports read."""
    rows = session.execute(
        select(DeliveryOutcome.domain, DeliveryOutcome.action, func.count())
        .where(DeliveryOutcome.occurred_at >= since)
        .group_by(DeliveryOutcome.domain, DeliveryOutcome.action)
        .order_by(func.count().desc(), DeliveryOutcome.domain)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]
