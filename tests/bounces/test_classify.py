"""Classification by status code first, diagnostic text second."""

from __future__ import annotations

import pytest

from vault.bounces import Reason, classify


@pytest.mark.parametrize(
    ("status", "diagnostic", "reason"),
    [
        (
            "5.1.1",
            "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
            Reason.USER_UNKNOWN,
        ),
        ("5.1.1", "550 5.1.1 mailbox full", Reason.MAILBOX_FULL),
        ("5.1.1", "550 5.1.1 Client host rejected: blocked using zen.spamhaus.org", Reason.BLOCKED),
        ("5.2.2", "552 5.2.2 Over quota", Reason.MAILBOX_FULL),
        ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", Reason.SPAM_DETECTED),
        ("5.7.1", "554 5.7.1 Relay access denied", Reason.NO_RELAYING),
        ("5.0.0", "550 Host unknown", Reason.HOST_UNKNOWN),
        ("4.0.0", "Domain name not found: example.invalid", Reason.NETWORK_ERROR),
        ("5.0.0", "The domain doesn't receive email: returned Null MX", Reason.NOT_ACCEPT),
        ("5.1.6", "550 5.1.6 recipient no longer on server", Reason.HAS_MOVED),
        ("4.4.7", "delivery time expired", Reason.EXPIRED),
        ("5.3.4", "552 5.3.4 Message too big for system", Reason.MESSAGE_TOO_BIG),
        (None, "", Reason.UNDEFINED),
        ("5.0.0", "something nobody recognises", Reason.ON_HOLD),
    ],
)
def test_status_and_text(status: str | None, diagnostic: str, reason: Reason) -> None:
    assert classify(status=status, diagnostic=diagnostic) is reason


def test_success_actions_are_delivered() -> None:
    for action in ("delivered", "relayed", "expanded"):
        assert classify(status="2.0.0", diagnostic="250 OK", action=action) is Reason.DELIVERED


def test_user_unknown_after_data_is_a_filter() -> None:
    text = "SMTP error from remote mail server after end of data: 550 Unknown user"
    assert classify(status="5.0.0", diagnostic=text, command="DATA") is Reason.FILTERED
    assert classify(status="5.0.0", diagnostic=text, command="RCPT") is Reason.USER_UNKNOWN


def test_local_delivery_program_failure_is_a_mailer_error() -> None:
    reason = classify(status="5.1.1", diagnostic="procmail: No such user", diagnostic_type="x-unix")
    assert reason is Reason.MAILER_ERROR


def test_delayed_without_detail_is_expired() -> None:
    assert classify(status=None, diagnostic="", action="delayed") is Reason.EXPIRED


def test_recipient_size_limit_code_is_exceed_limit_unless_exchange_names_the_message() -> None:
    text = "552 5.2.3 Message size exceeds fixed maximum message size (10485760)"
    assert classify(status="5.2.3", diagnostic=text) is Reason.EXCEED_LIMIT
    text = "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient"
    assert classify(status="5.2.3", diagnostic=text) is Reason.MESSAGE_TOO_BIG


def test_improper_command_sequence_is_a_syntax_error() -> None:
    assert classify(status="5.5.0", diagnostic="503 Improper sequence of commands") is (
        Reason.SYNTAX_ERROR
    )
