"""``POST /v1/events``: JSON delivery events and raw messages from a sender, their answers (no
address), content types and body limits."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api.client import api_client
from tests.deliveries.messages import CONSUMER_HARD, MAILBOX_FULL, message_for
from vault.api.app import create_app
from vault.api.limits import DEFAULT_MAX_BODY
from vault.deliveries.models import DeliveryOutcome
from vault.deliveries.reports import MAX_MESSAGE_BYTES
from vault.principals.permissions import Role
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

RFC822 = {"Content-Type": "message/rfc822"}


def outcomes(store: Vault) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryOutcome)) or 0)


def test_a_json_bounce_event_is_decided_and_answered_without_the_address(
    as_role, store: Vault, news: str
) -> None:
    sender = as_role(Role.SENDER)
    response = sender.post(
        "/v1/events",
        json={"type": "bounce", "recipient": "c@example.org", "status": "5.1.1", "list": "news"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "event"
    assert body["action"] == "confirm" and body["taken"] == "pending"
    assert body["suppression"] is None and body["outcome_id"]
    assert "c@example.org" not in response.text and "subscriber_id" not in body
    complaint = sender.post("/v1/events", json={"type": "complaint", "recipient": "c@example.org"})
    assert complaint.json()["suppression"] == "complaint"
    assert store.check(["c@example.org"])[0].suppressed


def test_malformed_events_are_422_naming_the_field_not_the_value(as_role) -> None:
    sender = as_role(Role.SENDER)
    for body in (
        {"type": "bounce"},
        {"type": "bounce", "recipient": "Zq7Secret@@example.org"},
        {"type": "explosion", "recipient": "Zq7Secret@example.org"},
        {"type": "bounce", "recipient": "Zq7Secret@example.org", "status": "2.0.0"},
        {"type": "bounce", "recipient": "Zq7Secret@example.org", "Zq7Secret": 1},
        {"type": "bounce", "recipient": "x@example.org", "list": "Zq7Secret@example.org"},
    ):
        response = sender.post("/v1/events", json=body)
        assert response.status_code == 422, (body, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
        assert "Zq7Secret" not in response.text
    broken = sender.post(
        "/v1/events", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422


def test_an_unknown_list_is_404(as_role) -> None:
    response = as_role(Role.SENDER).post(
        "/v1/events", json={"type": "complaint", "recipient": "x@example.org", "list": "nope"}
    )
    assert response.status_code == 404


def test_a_raw_bounce_is_ingested_and_answered_with_counts(as_role, store: Vault) -> None:
    store.create_list("news")
    store.subscribe(
        "Reader@gmail.com", list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="f"
    )
    raw = message_for(CONSUMER_HARD, "Reader@gmail.com")
    response = as_role(Role.SENDER).post("/v1/events", content=raw, headers=RFC822)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "message"
    assert body["messages"] == 1 and body["with_reports"] == 1
    assert body["suppressions_added"] == {"hard_bounce": 1}
    assert body["problems"] == []
    assert "reader" not in response.text.lower()
    assert store.check(["reader@gmail.com"])[0].reason == "hard_bounce"


def test_an_unreadable_message_is_counted_not_refused(as_role) -> None:
    response = as_role(Role.SENDER).post("/v1/events", content=b"\r\n\r\n", headers=RFC822)
    assert response.status_code == 200
    assert response.json()["unreadable"] == 1
    assert response.json()["problems"] == ["unreadable: empty"]


def test_other_content_types_are_415(as_role) -> None:
    sender = as_role(Role.SENDER)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = sender.post(
            "/v1/events", content=b"type=bounce", headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.headers["content-type"] == "application/problem+json"


def test_messages_may_exceed_the_global_limit_up_to_the_message_limit(
    store: Vault, tokens: dict[Role, str]
) -> None:
    raw = message_for(MAILBOX_FULL, "someone@example.jp")
    # A bounce that quotes a large original: over the API's 2 MiB, under the 20 MiB of a message.
    padded = raw.rstrip(b"\n") + b"\n" + (b"x" * 76 + b"\n") * (3 * 1024 * 1024 // 77)
    assert DEFAULT_MAX_BODY < len(padded) < MAX_MESSAGE_BYTES
    with api_client(create_app(store)) as client:
        sender = client.as_(tokens[Role.SENDER])
        accepted = sender.post("/v1/events", content=padded, headers=RFC822)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["with_reports"] == 1
        too_big = sender.post("/v1/events", content=b"x" * (MAX_MESSAGE_BYTES + 1), headers=RFC822)
        assert too_big.status_code == 413
        # Everywhere else the global limit still holds.
        elsewhere = sender.post(
            "/v1/suppressions/check",
            content=b"x" * (DEFAULT_MAX_BODY + 1),
            headers={"Content-Type": "application/json"},
        )
        assert elsewhere.status_code == 413
        # A JSON event is small: its own limit (64 KiB) answers before any parsing.
        huge_event = sender.post(
            "/v1/events",
            content=b'{"type": "bounce", "diagnostic": "' + b"x" * 70_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert huge_event.status_code == 422
    assert outcomes(store) == 1
