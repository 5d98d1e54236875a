"""The release generator itself: every recipient once, suppressions read as it goes, a row that
does not open skipped and counted, links that verify. The HTTP side is tests/api/test_mailings.py.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update

from tests.conftest import PUBLIC_URL
from vault.addresses import parse_address
from vault.audit.services import Actor
from vault.mailings import release as releases
from vault.mailings import services as mailings
from vault.mailings.segments import DomainRules
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.suppressions.models import SuppressionReason
from vault.unsubscribe import verify_token

ADDRESSES = [f"Reader.{i}@domain{i % 3}.example" for i in range(12)]


def _ticket(store: Vault, addresses: list[str]) -> releases.ReleaseTicket:
    store.create_list("news")
    for address in addresses:
        store.subscribe(address, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="t")
    with store.write() as session:
        mailing = mailings.create(
            session,
            name="spring",
            mailing_list=store.get_list("news"),
            rules=DomainRules(),
            created_by="test",
            now=store.now(),
        )
    return releases.start(store, actor=Actor("t", "sender"), mailing_id=mailing.id, reason="t")


def test_every_recipient_once_with_a_link_that_verifies(store: Vault) -> None:
    ticket = _ticket(store, ADDRESSES)
    report = releases.ReleaseReport()
    batches = list(releases.recipients(store, ticket, report, public_url=PUBLIC_URL, batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    released = [r for batch in batches for r in batch]
    assert sorted(r.address for r in released) == sorted(ADDRESSES)
    with store.read() as session:
        rows = session.execute(
            select(Subscriber.id, Subscriber.domain, Subscriber.sealed_local_part)
        ).all()
    cipher = store.keys.cipher
    address_of = {i: f"{cipher.open(s, subscriber_id=i, domain=d)}@{d}" for i, d, s in rows}
    for recipient in released:
        assert isinstance(recipient.subscriber_id, uuid.UUID)
        token = recipient.list_unsubscribe.removeprefix(f"<{PUBLIC_URL}/u/").removesuffix(">")
        assert verify_token(store.keys, token) == (recipient.subscriber_id, ticket.list_id)
        assert address_of[recipient.subscriber_id] == recipient.address
    assert (report.released, report.suppressed, report.undecryptable) == (12, 0, 0)
    assert report.address_key_ids == {store.keys.cipher.primary_key_id()}


def test_a_suppression_added_while_the_release_streams_applies_to_the_rest(
    store: Vault,
) -> None:
    ticket = _ticket(store, ADDRESSES)
    report = releases.ReleaseReport()
    stream = releases.recipients(store, ticket, report, public_url=PUBLIC_URL, batch_size=4)
    first = next(stream)
    rest = [parse_address(a) for a in ADDRESSES if a not in {r.address for r in first}]
    store.suppress(rest[:3], reason=SuppressionReason.COMPLAINT, source="t")
    store.suppress(rest[3:5], reason=SuppressionReason.MANUAL, source="t", list_name="news")
    later = [r.address for batch in stream for r in batch]
    assert sorted(later) == sorted(a.deliverable for a in rest[5:])
    assert (report.released, report.suppressed) == (4 + len(rest) - 5, 5)


def test_a_row_that_does_not_open_is_skipped_and_counted(store: Vault) -> None:
    ticket = _ticket(store, ADDRESSES[:4])
    with store.write() as session:
        rows = session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
        # Authentic, but bound to another row; and one cut short.
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == rows[0].id)
            .values(sealed_local_part=rows[1].sealed_local_part)
        )
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == rows[2].id)
            .values(sealed_local_part=rows[2].sealed_local_part[:8])
        )
    report = releases.ReleaseReport()
    released = [
        r
        for batch in releases.recipients(store, ticket, report, public_url=PUBLIC_URL)
        for r in batch
    ]
    assert {r.subscriber_id for r in released} == {rows[1].id, rows[3].id}
    assert (report.released, report.undecryptable) == (2, 2)


@pytest.mark.parametrize("size", [1, 3, 5000])
def test_batch_sizes_give_the_same_recipients(store: Vault, size: int) -> None:
    ticket = _ticket(store, ADDRESSES)
    report = releases.ReleaseReport()
    released = releases.recipients(store, ticket, report, public_url=PUBLIC_URL, batch_size=size)
    assert sorted(r.address for batch in released for r in batch) == sorted(ADDRESSES)


# Local parts that need JSON escaping (a quoted local part keeps its quotes and backslashes
# after normalization) beside ones that need none, ASCII or not.
TRICKY = [
    '"john \\"q\\" doe"@example.com',
    '"back\\\\slash"@example.com',
    "josé.Ñandú@example.com",
    "plain@example.com",
    "δοκιμή@παράδειγμα.δοκιμή",
]


@pytest.mark.parametrize("public_url", [PUBLIC_URL, "https://lists.example.test/é\\x"])
@pytest.mark.parametrize("size", [1, 5000])
def test_ndjson_blocks_are_the_lines_ndjson_line_writes(
    store: Vault, public_url: str, size: int
) -> None:
    ticket = _ticket(store, TRICKY + ADDRESSES[:3])
    report = releases.ReleaseReport()
    blocks = list(
        releases.ndjson_blocks(store, ticket, report, public_url=public_url, batch_size=size)
    )
    lines = [line for block in blocks for line in block.decode("utf-8").splitlines(True)]
    assert all(line.endswith("}\n") for line in lines)
    parsed = [json.loads(line) for line in lines]
    expected = {parse_address(a).deliverable for a in TRICKY + ADDRESSES[:3]}
    assert {p["address"] for p in parsed} == expected
    assert '"back\\\\slash"@example.com' in expected  # the escaping above is exercised
    for line, fields in zip(lines, parsed, strict=True):
        recipient = releases.Recipient(
            uuid.UUID(fields["subscriber_id"]), fields["address"], fields["list_unsubscribe"]
        )
        assert line == releases.ndjson_line(recipient)
        assert fields["list_unsubscribe"].startswith(f"<{public_url}/u/")
    assert report.released == len(lines) == 8
