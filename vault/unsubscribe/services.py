"""Unsubscribing by one-click token: no login, no address from the caller, idempotent.

The list-scoped suppression needs the digest of the canonical address, which only the sealed
local part can give: it is opened here, in process, used for the digest and dropped; it is
never returned, logged or stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from vault.addresses import parse_address
from vault.audit import services as audit
from vault.audit.services import Actor
from vault.crypto import KeySuite
from vault.deliveries.models import DeliveryOutcome, OutcomeSource, Taken
from vault.errors import InvalidAddress, InvalidCiphertext
from vault.subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from vault.suppressions import services as suppressions
from vault.suppressions.models import SuppressionReason
from vault.unsubscribe.tokens import verify_token

#: Who acts when a recipient follows a link: nobody logged in, the token is the authority.
ONE_CLICK_ACTOR = Actor(name="one-click", role="recipient")
SOURCE = "one-click"


@dataclass(frozen=True, slots=True)
class UnsubscribeResult:
    """``changed`` is False for a repeated request (or a subscriber since erased): the answer to
    the recipient is the same success either way."""

    changed: bool
    subscriber_id: uuid.UUID
    list_id: uuid.UUID


def unsubscribe_by_token(
    session: Session, *, keys: KeySuite, token: str, now: datetime, actor: Actor | None = None
) -> UnsubscribeResult:
    """Unsubscribe the token's subscriber from the token's list, suppress the address for that
    list, record the withdrawal and an outcome, and audit it, in the caller's transaction.

    ``InvalidToken`` (a ``NotFound``: HTTP 404) for a token that does not verify, before
    anything is read. A second call finds nothing to change and writes nothing at all.
    """
    subscriber_id, list_id = verify_token(keys, token)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.list_id != list_id:
        # Erased since the message was sent: an erasure suppression already covers them.
        return UnsubscribeResult(False, subscriber_id, list_id)
    # Read before suppressing: suppress_many also marks the list's subscribed rows.
    status_changed = subscriber.status == SubscriberStatus.SUBSCRIBED
    added = _suppress_for_list(session, keys=keys, subscriber=subscriber, now=now)
    if not (added or status_changed):
        return UnsubscribeResult(False, subscriber_id, list_id)
    if status_changed:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.status_changed_at = now
        subscriber.consents.append(
            ConsentRecord(
                id=uuid.uuid4(),
                event="withdrawn",
                method=subscriber.consent_method,
                source=SOURCE,
                at=now,
            )
        )
    subscriber.updated_at = subscriber.last_activity_at = now
    outcome_id = uuid.uuid4()
    session.add(
        DeliveryOutcome(
            id=outcome_id,
            subscriber_id=subscriber.id,
            list_id=list_id,
            domain=subscriber.domain,
            status=None,
            reason="unsubscribe",
            group="P",
            action=Taken.SUPPRESSED.value,
            source=OutcomeSource.UNSUBSCRIBE.value,
            diagnostic=None,
            occurred_at=now,
            recorded_at=now,
        )
    )
    audit.record(
        session,
        keyring=keys.keyring,
        actor=actor or ONE_CLICK_ACTOR,
        tag="subscriber:unsubscribe",
        subject=f"subscriber:{subscriber.id}",
        details={
            "list_id": str(list_id),
            "source": SOURCE,
            "domain": subscriber.domain,
            "suppression_added": bool(added),
            "status_changed": status_changed,
            "suppression_key_id": keys.suppression.primary_key_id,
        },
        now=now,
    )
    session.flush()
    return UnsubscribeResult(True, subscriber_id, list_id)


def _suppress_for_list(
    session: Session, *, keys: KeySuite, subscriber: Subscriber, now: datetime
) -> int:
    """Add the list-scoped ``unsubscribe`` suppression; 1 if new, 0 if it was there."""
    try:
        local_part = keys.cipher.open(
            subscriber.sealed_local_part, subscriber_id=subscriber.id, domain=subscriber.domain
        )
        address = parse_address(f"{local_part}@{subscriber.domain}")
    except (InvalidCiphertext, InvalidAddress):
        # Sealed under a retired key (or unreadable): the status change alone still keeps the
        # subscriber out of every release of this list.
        return 0
    outcome = suppressions.suppress_many(
        session,
        keys=keys,
        addresses=[address],
        reason=SuppressionReason.UNSUBSCRIBE,
        source=SOURCE,
        list_id=subscriber.list_id,
        now=now,
    )
    return outcome.added
