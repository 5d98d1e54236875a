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
        (
            None,
            "Name service error for domain example.com: Host not found, try again",
            Reason.NETWORK_ERROR,
        ),
        ("4.0.0", "554-No SMTP service 554-Bad DNS PTR resource record.", Reason.BLOCKED),
        ("5.0.0", "554 Message rejected: Email address is not verified.", Reason.REJECTED),
        ("5.0.0", "554 Transaction failed", Reason.SYSTEM_ERROR),
        ("5.7.1", "550 5.7.1 <a@b.example>: User a@b.example temporary locked.", Reason.SUSPENDED),
        ("5.5.0", "554 mx.example.com ESMTP not accepting connections", Reason.BLOCKED),
        ("5.5.0", "550 domain [example.com] mismatches client ip 192.0.2.1.", Reason.BLOCKED),
        ("5.0.0", "500 Remote server does not support TLS (state 6).", Reason.SECURITY_ERROR),
        ("4.0.0", "451 Could not load DRD for domain (example.com)", Reason.SYSTEM_ERROR),
        ("4.4.5", "452 4.4.5 Insufficient disk space; try again later", Reason.SYSTEM_FULL),
        ("4.4.5", "452 4.4.5 Mailbox quota exceeded", Reason.MAILBOX_FULL),
        (
            None,
            "after end of data: host mx.example.de: 500 Line limit exceeded",
            Reason.MESSAGE_TOO_BIG,
        ),
        (
            None,
            "a <b@example.net>: malformed address: <b@example.net> may not follow a",
            Reason.SYNTAX_ERROR,
        ),
        ("5.0.0", "554 Service currently unavailable", Reason.SYSTEM_ERROR),
        ("4.0.0", "450 4.0.0 Temporary failure", Reason.ON_HOLD),
        (
            "4.3.0",
            "451 4.3.0 This message could not be delivered due to a recipient error. "
            "Please try again later.",
            Reason.ON_HOLD,
        ),
        (
            "4.0.0",
            "No MX found for domain. Please note that this is only a temporary failure report.",
            Reason.NETWORK_ERROR,
        ),
        ("5.0.0", "554 INVALID IP FOR SENDING MAIL OF DOMAIN example.com", Reason.BLOCKED),
        (
            "5.0.0",
            "550 SC-004 (COL0-MC1-F1) Unfortunately, messages from 192.0.2.1 weren't sent.",
            Reason.BLOCKED,
        ),
        (
            "5.5.0",
            "554 IP=192.0.2.254 - A problem occurred. (Ask your postmaster for help.) (BL)",
            Reason.BLOCKED,
        ),
        (
            "5.4.4",
            "Name service error for name=example.org type=MX: Malformed or unexpected name "
            "server reply",
            Reason.NETWORK_ERROR,
        ),
        ("5.4.4", "Sorry, I couldn't find any host named example.invalid.", Reason.HOST_UNKNOWN),
        (
            "5.1.10",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            Reason.USER_UNKNOWN,
        ),
        ("5.1.10", "556 5.1.10 Recipient address has null MX", Reason.NOT_ACCEPT),
        ("5.0.0", "550 server does not accept mail from a@b.example", Reason.REJECTED),
        ("5.0.0", "556 example.net does not accept mail (null MX)", Reason.NOT_ACCEPT),
        (
            "5.0.0",
            "SMTP error from remote mail server after end of data: 553 sender.example does "
            "not exist",
            Reason.REJECTED,
        ),
        (
            "5.0.0",
            "552 mail file size exceeds the maximum size allowed for mail delivery",
            Reason.MAILBOX_FULL,
        ),
        ("5.0.0", "554 5.4.6 Message looping", Reason.NETWORK_ERROR),
        ("4.0.0", "451 example.org loops back to myself", Reason.SYSTEM_ERROR),
        ("5.0.0", "554 REJECT bulk.advertising", Reason.SPAM_DETECTED),
        (
            "5.0.0",
            "554 Message rejected because the recipient is not accepting mail with attachments",
            Reason.POLICY_VIOLATION,
        ),
        (
            "4.0.0",
            "454 Throttling failure: Daily message quota exceeded.",
            Reason.RATE_LIMITED,
        ),
        ("5.0.0", "550 Protocol violation", Reason.POLICY_VIOLATION),
        ("5.0.0", "535 Authentication credentials invalid", Reason.SECURITY_ERROR),
        ("5.0.0", "550 This system is not configured to relay mail", Reason.NO_RELAYING),
        ("5.0.0", "552 Message file too big", Reason.MESSAGE_TOO_BIG),
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


def test_mailbox_words_without_rcpt_under_a_vague_code_are_a_filter() -> None:
    # Nothing says RCPT TO was refused, and the code does not name the mailbox.
    text = "550 5.7.1 550 User Unknown: a@b.example"
    assert classify(status="5.7.1", diagnostic=text) is Reason.FILTERED
    assert classify(status="5.0.0", diagnostic="550 <a@b.example> No such user here") is (
        Reason.FILTERED
    )
    # A code that names the mailbox, or the answer to RCPT TO, still means the user is unknown.
    assert classify(status="5.1.1", diagnostic=text) is Reason.USER_UNKNOWN
    assert classify(status="5.7.1", diagnostic=text, command="RCPT") is Reason.USER_UNKNOWN
    # A refused sender is not a mask for a missing mailbox.
    assert classify(status="5.1.8", diagnostic="501 5.1.8 Sender address rejected") is (
        Reason.REJECTED
    )


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


@pytest.mark.parametrize(
    "text",
    [
        "550 no mail box available for this user",
        "550 <a@b.example> not found",
        "550 this email address is wrong or no longer valid",
        "550 no existe dicha persona",
    ],
)
def test_user_unknown_wordings_at_rcpt(text: str) -> None:
    assert classify(status="5.0.0", diagnostic=text, command="RCPT") is Reason.USER_UNKNOWN


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("5.0.0", "550 Sender address rejected: Domain not found"),
        ("4.1.8", "450 4.1.8 <a@b.example>: Sender address rejected: Domain not found"),
        ("5.1.0", "550 5.1.0 <a@b.example>: Sender address rejected: undeliverable address"),
        ("5.0.0", "553 Domain of sender address a@b.example does not exist"),
    ],
)
def test_a_sender_refused_at_rcpt_is_not_the_recipients_fault(status: str, text: str) -> None:
    # Postfix checks the sender's domain when the recipient is given, and says whose it is.
    assert classify(status=status, diagnostic=text, command="RCPT") is Reason.REJECTED


def test_block_list_words_outrank_a_user_unknown_code() -> None:
    text = "550 5.1.1 Rejecting open proxy 192.0.2.1"
    assert classify(status="5.1.1", diagnostic=text) is Reason.BLOCKED


def test_quoted_recipient_alone_does_not_mean_rcpt() -> None:
    # With no command known, "user unknown" may be a content filter's answer after DATA.
    text = "550 <a@b.example>: User unknown"
    assert classify(status="5.0.0", diagnostic=text).value in {"on_hold", "filtered"}
    assert classify(status="5.0.0", diagnostic=text, command="RCPT") is Reason.USER_UNKNOWN


@pytest.mark.parametrize(
    ("status", "diagnostic", "reason"),
    [
        # Why the host could not be reached outranks the queue giving up.
        (
            "4.4.1",
            "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to "
            "try again; this message has been in the queue too long.",
            Reason.NETWORK_ERROR,
        ),
        (
            "4.4.1",
            "connect to mx.example.net[192.0.2.2]:25: No route to host",
            Reason.NETWORK_ERROR,
        ),
        ("4.4.7", "Name server: example.jp.: host name lookup failure", Reason.NETWORK_ERROR),
        # A connection that only timed out, retried until the queue ran out, expired.
        ("4.4.1", "connect to mx.example.net[192.0.2.2]:25: Connection timed out", Reason.EXPIRED),
        (None, "Connection timed out", Reason.EXPIRED),
        (
            "4.1.9",
            "Resources temporarily unavailable [#4.1.9]. I'm not going to try again; this "
            "message has been in the queue too long.",
            Reason.EXPIRED,
        ),
        (None, "Unable to deliver message after multiple retries, giving up.", Reason.EXPIRED),
        (
            "4.4.3",
            "Unable to contact LDAP server. (#4.4.3)I'm not going to try again; this message "
            "has been in the queue too long.",
            Reason.SYSTEM_ERROR,
        ),
    ],
)
def test_expired_against_network_error(status: str | None, diagnostic: str, reason: Reason) -> None:
    assert classify(status=status, diagnostic=diagnostic) is reason


def test_recipient_preferences_are_a_filter_despite_5_1_1() -> None:
    text = "550 5.1.1 RCP-P2 Refused due to recipient preferences"
    assert classify(status="5.1.1", diagnostic=text) is Reason.FILTERED
