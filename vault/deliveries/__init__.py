"""Delivery outcomes: bounces, complaints and successes applied to the store (SPEC §5).

``vault.bounces`` parses and classifies; this package keeps the state the action table needs,
writes the resulting suppressions and stores each outcome without the address.
"""

from vault.deliveries.events import DeliveryEvent, EventType, parse_event, parse_event_json
from vault.deliveries.ingest import IngestSummary
from vault.deliveries.models import BounceState, DeliveryOutcome, OutcomeSource, Taken
from vault.deliveries.reports import MessageReports, Report, read_message, report_from_event
from vault.deliveries.services import (
    BouncePolicy,
    Decision,
    Tally,
    record_report,
    record_reports,
    scrub_diagnostic,
)

__all__ = [
    "BouncePolicy",
    "BounceState",
    "Decision",
    "DeliveryEvent",
    "DeliveryOutcome",
    "EventType",
    "IngestSummary",
    "MessageReports",
    "OutcomeSource",
    "Report",
    "Taken",
    "Tally",
    "parse_event",
    "parse_event_json",
    "read_message",
    "record_report",
    "record_reports",
    "report_from_event",
    "scrub_diagnostic",
]
