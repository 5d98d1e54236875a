"""Reporting MTAs recognised by their headers, whose own phrases name the reason."""

from __future__ import annotations

from vault.bounces import Group, Reason, parse_message


def _report(headers: str, text: str, status: str = "5.0.0", diagnostic: str = "") -> bytes:
    code = f"Diagnostic-Code: smtp; {diagnostic}\n" if diagnostic else ""
    return (
        f"{headers}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n'
        "\n"
        "--B\n"
        "Content-Type: text/plain\n"
        "\n"
        f"{text}\n"
        "\n"
        "--B\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx.example.net\n"
        "\n"
        "Final-Recipient: rfc822; kijitora@example.jp\n"
        "Action: failed\n"
        f"Status: {status}\n"
        f"{code}"
        "\n"
        "--B--\n"
    ).encode()


def _reason(raw: bytes) -> Reason:
    (recipient,) = parse_message(raw).recipients
    assert recipient.recipient == "kijitora@example.jp"
    return recipient.reason


_PLAIN = "From: MAILER-DAEMON@mx.example.net\nTo: sender@example.org\nSubject: Returned mail"
_NO_SUCH_USER = "550 kijitora@example.jp... No such user"


def test_no_such_user_from_an_unknown_filter_is_not_trusted() -> None:
    raw = _report(_PLAIN, "Delivery failed.", diagnostic=_NO_SUCH_USER)
    assert _reason(raw) is Reason.FILTERED


def test_mcafee_gateway_means_what_it_says() -> None:
    headers = (
        "From: <>\nTo: sender@example.org\nSubject: Delivery Status\n"
        "X-NAI-Header: Modified by McAfee Email Gateway (4500)"
    )
    raw = _report(
        headers, "--- The following addresses had delivery problems ---", diagnostic=_NO_SUCH_USER
    )
    assert _reason(raw) is Reason.USER_UNKNOWN


def test_messagelabs_phrases() -> None:
    headers = (
        "From: Mail Delivery System <MAILER-DAEMON@messagelabs.com>\nTo: sender@example.org\n"
        "Subject: Mail Delivery Failure\nX-Msg-Ref: server-1.tower-2.messagelabs.com!1!2!3"
    )
    assert _reason(_report(headers, "", diagnostic="542 kijitora@example.jp Rejected")) is (
        Reason.USER_UNKNOWN
    )
    text = "553 Please turn on SMTP Authentication in your mail client"
    assert _reason(_report(headers, "", diagnostic=text)) is Reason.SECURITY_ERROR
    # Lower-case "rejected" is ordinary prose, not the gateway's verdict.
    text = "554 message rejected: sender address refused"
    assert _reason(_report(headers, "", diagnostic=text)) is not Reason.USER_UNKNOWN


def test_the_same_words_from_a_lookalike_sender_are_not_the_gateways() -> None:
    headers = (
        "From: Mail Delivery System <MAILER-DAEMON@messagelabs.example.com>\n"
        "To: sender@example.org\nSubject: Mail Delivery Failure\nX-Msg-Ref: x"
    )
    raw = _report(headers, "", diagnostic="542 kijitora@example.jp Rejected")
    assert parse_message(raw).recipients[0].group is not Group.PERMANENT


def test_domino_reads_its_verdict_from_the_report_text() -> None:
    headers = "From: Postmaster@example.jp\nTo: sender@example.org\nSubject: DELIVERY FAILURE: x"
    text = (
        "Your message\n\n  Subject: Hello\n\nwas not delivered to:\n\n  kijitora@example.jp\n\n"
        "because:\n\n  User Neko (kijitora@example.jp) not listed in Domino Directory\n"
    )
    assert _reason(_report(headers, text)) is Reason.USER_UNKNOWN


def test_ezweb_states_the_accounts_condition_above_the_addresses() -> None:
    headers = (
        "From: Mail Administrator <Postmaster@ezweb.ne.jp>\nTo: sender@example.org\n"
        "Subject: Mail System Error - Returned Mail"
    )
    text = (
        "The user(s) account is disabled.\n\n"
        "<kijitora@example.jp>: 550 user unknown (in reply to RCPT TO command)"
    )
    assert _reason(_report(headers, text)) is Reason.SUSPENDED


def test_ses_receipt_rule_bounce_is_a_filter() -> None:
    headers = f"{_PLAIN}\nX-SES-Outgoing: 2015.10.01-192.0.2.7"
    raw = _report(
        headers, "This message could not be delivered.", "5.1.1", "550 5.1.1 Mailbox does not exist"
    )
    assert _reason(raw) is Reason.FILTERED


_GMAIL = (
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: sender@example.org\n"
    "Subject: Delivery Status Notification (Failure)"
)


def test_gmail_state_names_the_refused_command() -> None:
    header_error = "554 554 5.7.0 Header error (state 18)."
    assert _reason(_report(_GMAIL, "", diagnostic=header_error)) is Reason.FILTERED
    unknown = "550 550 <kijitora@example.jp>: User unknown (state 14)."
    assert _reason(_report(_GMAIL, "", diagnostic=unknown)) is Reason.USER_UNKNOWN
    # A specific code from the remote server outranks the state's usual meaning.
    full = "550 550 5.2.2 <kijitora@example.jp>... Mailbox Full (state 14)."
    assert _reason(_report(_GMAIL, "", diagnostic=full)) is Reason.MAILBOX_FULL


def test_google_headline_names_a_silent_recipient() -> None:
    text = (
        "** Address not found **\n\nYour message wasn't delivered to kijitora@example.jp "
        "because the address couldn't be found."
    )
    assert _reason(_report(_GMAIL, text)) is Reason.USER_UNKNOWN
    # The headline does not speak for a recipient whose own diagnostic says something else.
    assert _reason(_report(_GMAIL, text, diagnostic="552 5.2.2 Mailbox full")) is (
        Reason.MAILBOX_FULL
    )


def test_mailbox_unavailable_is_outlook_coms_word_for_a_missing_mailbox() -> None:
    text = "550 Requested action not taken: mailbox unavailable"
    outlook = (
        "From: postmaster@hotmail.com\nTo: sender@example.org\n"
        "Subject: Delivery Status Notification (Failure)\nX-Message-Delivery: Vj0xLjE7"
    )
    assert _reason(_report(outlook, "", diagnostic=text)) is Reason.USER_UNKNOWN
    # From a server that is not known to mean it, outside RCPT TO, it may be a filter's word.
    assert _reason(_report(_PLAIN, "", diagnostic=text)) is Reason.FILTERED


def test_imail_phrases() -> None:
    headers = f"{_PLAIN}\nX-Mailer: <SMTP32 v8.22>"
    assert _reason(_report(headers, "", diagnostic="User mailbox exceeds allowed size: x")) is (
        Reason.MAILBOX_FULL
    )
    assert _reason(_report(headers, "", diagnostic="Delivery failed 20 attempts: x")) is (
        Reason.EXPIRED
    )
    # "undeliverable to" names no reason: the remote server's words decide.
    text = "undeliverable to kijitora@example.jp 550-REJECTED - Blacklisted URL in message."
    assert _reason(_report(headers, "", diagnostic=text)) is Reason.SPAM_DETECTED


def test_zoho_host_not_reachable_is_a_queue_that_ran_out() -> None:
    headers = f"{_PLAIN}\nX-ZohoMail: Si CHF_MF_NL SS_10"
    text = "Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable."
    assert _reason(_report(headers, "", "4.0.0", text)) is Reason.EXPIRED


def test_aol_reads_a_broken_mx_answer_as_a_domain_that_takes_no_mail() -> None:
    text = (
        "Name service error for name=example.jp type=MX: Malformed or unexpected name server reply"
    )
    assert _reason(_report(f"{_PLAIN}\nX-AOL-IP: 192.0.2.135", "", "5.4.4", text)) is (
        Reason.NOT_ACCEPT
    )
    assert _reason(_report(_PLAIN, "", "5.4.4", text)) is Reason.NETWORK_ERROR


def test_exim_own_messages() -> None:
    headers = (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: sender@example.org\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "Message-Id: <E1P1YNN-0003AD-Ga@mx.example.net>"
    )
    text = "all hosts have been failing for a long time and were last tried after this message"
    assert _reason(_report(headers, "", "4.0.0", text)) is Reason.EXPIRED
    text = "an MX or SRV record indicated no SMTP service"
    assert _reason(_report(headers, "", "5.0.0", text)) is Reason.NOT_ACCEPT
    # After MAIL FROM the words are about the sender, whatever Exim adds about the queue.
    text = (
        "Delay reason: SMTP error from remote mail server after MAIL FROM:<a@example.org>: "
        "450 service permits 2 unverifyable sending IPs"
    )
    (refused,) = parse_message(_report(headers, "", "4.0.0", text)).recipients
    assert refused.reason is not Reason.EXPIRED
    assert refused.group is Group.NOT_RECIPIENT


def test_gmail_specific_code_outranks_its_delay_notice() -> None:
    text = (
        "Delivery to the following recipient has been delayed:\n\n     kijitora@example.jp\n\n"
        "Message will be retried for 2 more day(s)"
    )
    full = "450 450 4.2.2 <kijitora@example.jp>... Mailbox Full (state 14)."
    assert _reason(_report(_GMAIL, text, "4.2.2", full)) is Reason.MAILBOX_FULL
    assert _reason(_report(_GMAIL, text, "4.0.0", "Message will be retried")) is Reason.EXPIRED


def test_a_vendors_bare_verdict_yields_to_more_precise_words() -> None:
    headers = (
        'From: postmaster@example.jp ("InterScan Notification")\nTo: sender@example.org\n'
        "Subject: Mail could not be delivered"
    )
    text = "Unable to deliver message to <kijitora@example.jp>: mailbox is full"
    assert _reason(_report(headers, "", diagnostic=text)) is Reason.MAILBOX_FULL
    full = "450 450 Mailbox Full (state 14)."
    assert _reason(_report(_GMAIL, "", "4.0.0", full)) is Reason.MAILBOX_FULL
