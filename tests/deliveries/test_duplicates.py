"""The same report twice is one report: a mailbox read again, a message in two mailboxes, a
retried JSON event. Counting it twice would turn one corporate bounce into a confirmed one."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.deliveries.messages import (
    COMPLAINT,
    CORPORATE_HARD,
    DELIVERED,
    MAILBOX_FULL,
    SPAM_BLOCK,
    mbox,
    message_for,
)
from vault.bounces import iter_messages
from vault.clock import FixedClock
from vault.crypto import Purpose
from vault.deliveries.models import DeliveryOutcome
from vault.deliveries.reports import message_identity
from vault.errors import InputError
from vault.keys import services as keys
from vault.store import Vault

CORP = "pat.lee@acme-corp.example"


def stored_outcomes(store: Vault) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryOutcome)) or 0)


def suppressed(store: Vault, address: str) -> str | None:
    answer = store.check([address])[0]
    return answer.reason if answer.suppressed else None


def test_the_same_corporate_bounce_on_another_day_confirms_nothing(
    store: Vault, clock: FixedClock
) -> None:
    bounce = message_for(CORPORATE_HARD, CORP)
    store.ingest([bounce])
    clock.advance(timedelta(days=3))
    summary = store.ingest([bounce])
    assert summary.tally.by_taken == {"duplicate": 1}
    assert summary.tally.outcomes_stored == 0
    assert suppressed(store, CORP) is None
    assert stored_outcomes(store) == 1
    # A second, different bounce for the same address still confirms it.
    store.ingest([message_for(CORPORATE_HARD, CORP)])
    assert suppressed(store, CORP) == "hard_bounce"


def test_a_mailbox_read_twice_adds_nothing_the_second_time(store: Vault) -> None:
    box = mbox(
        [
            message_for(CORPORATE_HARD, CORP),
            message_for(MAILBOX_FULL, "dana@corp-three.example"),
            message_for(SPAM_BLOCK, "lou@corp-two.example"),
            message_for(COMPLAINT, "ann@corp-four.example"),
        ]
    )
    first = store.ingest(iter_messages(io.BytesIO(box)))
    second = store.ingest(iter_messages(io.BytesIO(box)))
    assert first.tally.outcomes_stored == 4
    assert second.tally.outcomes_stored == 0
    assert second.tally.by_taken == {"duplicate": 4}
    assert stored_outcomes(store) == 4


def test_the_same_message_twice_in_one_batch_counts_once(store: Vault) -> None:
    soft = message_for(MAILBOX_FULL, "dana@corp-three.example")
    summary = store.ingest([soft, soft, soft])
    assert summary.tally.by_taken == {"counted": 1, "duplicate": 2}
    assert stored_outcomes(store) == 1


def test_a_report_is_known_again_after_the_index_key_rotates(
    store: Vault, clock: FixedClock
) -> None:
    bounce = message_for(CORPORATE_HARD, CORP)
    store.ingest([bounce])
    keys.rotate(store, purpose=Purpose.INDEX)
    clock.advance(timedelta(days=2))
    assert store.ingest([bounce]).tally.by_taken == {"duplicate": 1}
    assert suppressed(store, CORP) is None


def test_an_old_success_read_again_clears_nothing(store: Vault, clock: FixedClock) -> None:
    store.ingest([message_for(CORPORATE_HARD, CORP)])
    clock.advance(timedelta(days=1))
    success = message_for(DELIVERED, CORP)
    assert store.ingest([success]).tally.by_taken == {"reset": 1}
    clock.advance(timedelta(days=1))
    store.ingest([message_for(CORPORATE_HARD, CORP)])  # pending again
    clock.advance(timedelta(days=1))
    assert store.ingest([success]).tally.by_taken == {"duplicate": 1}
    clock.advance(timedelta(days=1))
    store.ingest([message_for(CORPORATE_HARD, CORP)])  # confirms the pending one
    assert suppressed(store, CORP) == "hard_bounce"


def test_the_stored_digest_is_not_derived_from_the_address(store: Vault) -> None:
    """Two recipients of one DSN are told apart by position, not by address: erasing an
    address leaves no digest of it behind in outcomes not linked to a subscriber."""
    raw = message_for(CORPORATE_HARD, CORP)
    other = raw.replace(CORP.encode(), b"someone.else@acme-corp.example")
    store.ingest([raw])
    assert store.ingest([other]).tally.by_taken == {"duplicate": 1}


def event(**fields: str) -> dict[str, str]:
    return {"type": "bounce", "recipient": CORP, "status": "4.2.2", **fields}


def test_a_retried_event_with_its_id_is_recorded_once(store: Vault) -> None:
    first = store.record_event(event(event_id="<0100018c.abc@ses.example>"))
    retry = store.record_event(event(event_id="<0100018c.abc@ses.example>"))
    assert (first.taken, retry.taken) == ("counted", "duplicate")
    # The same id about another recipient is another report.
    other = store.record_event(
        event(event_id="<0100018c.abc@ses.example>", recipient="x@y.example")
    )
    assert other.taken == "counted"
    # One id for every event about one sent message: a later bounce or complaint is news.
    later = store.record_event(event(event_id="<0100018c.abc@ses.example>", status="5.1.1"))
    assert later.taken == "pending"
    complaint = store.record_event(
        {"type": "complaint", "recipient": CORP, "event_id": "<0100018c.abc@ses.example>"}
    )
    assert complaint.taken == "suppressed"
    # Without an id nothing says two events are one: both are recorded.
    store.record_event(event())
    store.record_event(event())
    assert stored_outcomes(store) == 6


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201])
def test_an_unusable_event_id_is_refused(store: Vault, bad: str) -> None:
    with pytest.raises(InputError, match="event_id"):
        store.record_event(event(event_id=bad))
    assert stored_outcomes(store) == 0


def test_message_identity_is_the_top_level_message_id_else_a_hash() -> None:
    folded = b"From: MAILER-DAEMON\r\nMessage-Id:\r\n  <1.2@mx.example>\r\n\r\nbody\r\n"
    assert message_identity(folded) == b"message-id:<1.2@mx.example>"
    # The Message-ID of a quoted original, after the header, is not the report's.
    quoted = b"From: MAILER-DAEMON\n\nMessage-ID: <original@sender.example>\n"
    assert message_identity(quoted).startswith(b"sha256:")
    assert message_identity(quoted) == message_identity(bytes(quoted))
    assert message_identity(quoted) != message_identity(quoted + b"more\n")
