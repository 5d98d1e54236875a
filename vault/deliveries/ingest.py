"""Ingesting a stream of raw messages (one file, an mbox, a Maildir, standard input) in batches.

Messages are parsed outside any transaction; each batch of reports is applied and audited in
one transaction, so an interrupted run keeps what it committed and every change it made is in
the audit log. A message that cannot be read is counted and reported by position, never fatal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vault.crypto import KeySuite
from vault.deliveries.parsing import parse_in_order
from vault.deliveries.reports import MessageReports, Report, reports_of
from vault.deliveries.services import BouncePolicy, Tally, record_reports
from vault.errors import ParserStopped

DEFAULT_BATCH = 500
#: Problems kept for the summary; the counts stay exact beyond this.
MAX_PROBLEMS = 1000


@dataclass
class IngestSummary:
    """Counts for one run (never an address) and the positions of messages that went wrong."""

    run_id: uuid.UUID
    messages: int = 0
    with_reports: int = 0  # messages that reported on at least one recipient
    without_bounce: int = 0  # readable messages that are no bounce, complaint or auto-reply
    unreadable: int = 0
    unusable_recipients: int = 0  # recipients whose address does not parse
    tally: Tally = field(default_factory=Tally)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (message position, problem)

    def note(self, position: int, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((position, problem))

    def counts(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "with_reports": self.with_reports,
            "without_bounce": self.without_bounce,
            "unreadable": self.unreadable,
            "unusable_recipients": self.unusable_recipients,
            **self.tally.as_details(),
        }

    def add(self, other: IngestSummary) -> None:
        self.messages += other.messages
        self.with_reports += other.with_reports
        self.without_bounce += other.without_bounce
        self.unreadable += other.unreadable
        self.unusable_recipients += other.unusable_recipients
        self.tally.add(other.tally)


AuditBatch = Callable[[Session, dict[str, Any]], None]


def ingest_messages(
    write: Callable[[], AbstractContextManager[Session]],
    *,
    keys: KeySuite,
    messages: Iterable[bytes],
    policy: BouncePolicy,
    now: Callable[[], datetime],
    audit_batch: AuditBatch,
    list_id: uuid.UUID | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> IngestSummary:
    """Apply every report in ``messages``; ``audit_batch(session, details)`` writes the audit
    entry of each batch inside that batch's transaction (at least one, even for no input).

    With ``workers`` above 1 the messages are parsed in that many processes
    (``parse_in_order``); they are still applied one by one in input order, so the outcome is
    the same. Should a worker die, every message before the one it was parsing is stored (the
    last batch is audited as such) and ``ParserStopped`` names that message.
    """
    total = IngestSummary(run_id=uuid.uuid4())
    current = IngestSummary(run_id=total.run_id)
    reports: list[Report] = []
    batches = 0

    def flush(*, last: bool) -> None:
        nonlocal batches, current
        batches += 1
        with write() as session:
            _, current.tally = record_reports(
                session, keys=keys, reports=reports, policy=policy, now=now()
            )
            details = {"run_id": str(total.run_id), "batch": batches, "last": last}
            audit_batch(session, details | current.counts())
        total.add(current)
        current = IngestSummary(run_id=total.run_id)
        reports.clear()

    def add(position: int, result: MessageReports) -> None:
        current.messages += 1
        if result.unreadable is not None:
            current.unreadable += 1
            total.note(position, f"unreadable: {result.unreadable}")
        elif not result.reports and not result.unusable:
            current.without_bounce += 1
        else:
            current.with_reports += bool(result.reports)
            for problem in result.unusable:
                current.unusable_recipients += 1
                total.note(position, f"a recipient was skipped: {problem}")
            for report in result.reports:
                reports.append(replace(report, list_id=list_id) if list_id else report)

    parsed = enumerate(parse_in_order(messages, workers=workers), start=1)
    try:
        for position, one in parsed:
            add(position, reports_of(one, now=now()))
            if progress is not None:
                progress(1)
            if current.messages >= batch_size:
                flush(last=False)
    except ParserStopped:
        flush(last=True)
        raise
    flush(last=True)
    return total
