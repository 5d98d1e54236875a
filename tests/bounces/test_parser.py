"""Parsing of each report format, and robustness on garbage."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.bounces import Group, Kind, ParsedMessage, Reason, classify, parse_message

_DSN = b"""From: MAILER-DAEMON@mx.example.net
To: sender@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

<Kijitora@Example.JP>: host mx.example.jp[192.0.2.1] said: 550 5.1.1
    <kijitora@example.jp>: Recipient address rejected: User unknown (in reply to RCPT TO)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; Kijitora@Example.JP
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.jp
Diagnostic-Code: smtp; 550 5.1.1 <kijitora@example.jp>: Recipient address rejected:
    User unknown

Final-Recipient: rfc822; neko@example.jp
Action: delivered
Status: 2.0.0

--B--
"""


def test_dsn() -> None:
    result = parse_message(_DSN)
    assert result.kind is Kind.DSN
    first, second = result.recipients
    assert first.recipient == "kijitora@example.jp"
    assert (first.status, first.reason, first.group) == (
        "5.1.1",
        Reason.USER_UNKNOWN,
        Group.PERMANENT,
    )
    assert first.remote_mta == "mx.example.jp"
    assert second.group is Group.IGNORE


def test_arf_complaint() -> None:
    raw = b"""From: fbl@provider.example
To: abuse@example.org
Subject: FW: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"

--B
Content-Type: text/plain

This is an abuse report.
--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Test/1.0
Version: 1
Original-Rcpt-To: <complainer@provider.example>

--B
Content-Type: message/rfc822

From: news@example.org
To: someone-else@provider.example
Subject: hello

hi
--B--
"""
    result = parse_message(raw)
    assert result.kind is Kind.ARF
    assert [r.recipient for r in result.recipients] == ["complainer@provider.example"]
    assert result.recipients[0].reason is Reason.COMPLAINT


def test_autoreply() -> None:
    raw = b"""From: Kijitora <kijitora@example.net>
To: news@example.org
Subject: Out of office
Auto-Submitted: auto-replied

I am currently out of the office until May 5th.
"""
    result = parse_message(raw)
    assert result.kind is Kind.AUTOREPLY
    assert [(r.recipient, r.group) for r in result.recipients] == [
        ("kijitora@example.net", Group.IGNORE)
    ]


def test_plain_text_bounce() -> None:
    raw = b"""From: MAILER-DAEMON@mx.example.net
To: news@example.org
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.

<gone@example.jp>:
192.0.2.153 does not like recipient.
Remote host said: 550 5.1.1 <gone@example.jp>... User Unknown
Giving up on 192.0.2.153.

--- Below this line is a copy of the message.

From: news@example.org
To: gone@example.jp
"""
    result = parse_message(raw)
    assert [(r.recipient, r.reason) for r in result.recipients] == [
        ("gone@example.jp", Reason.USER_UNKNOWN)
    ]


def test_ses_json_notification() -> None:
    note = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {
                    "emailAddress": "gone@example.jp",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
    }
    raw = (
        b"From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message\n\n"
        + json.dumps(note).encode()
    )
    result = parse_message(raw)
    assert [(r.recipient, r.reason) for r in result.recipients] == [
        ("gone@example.jp", Reason.USER_UNKNOWN)
    ]


def test_ordinary_mail_is_not_a_report() -> None:
    raw = b"From: friend@example.net\nTo: me@example.org\nSubject: lunch?\n\nTomorrow at noon?\n"
    assert parse_message(raw) == ParsedMessage.empty()


def test_separator_lines_do_not_backtrack() -> None:
    # Rows of "=" or "-" that no keyword follows once made the cut-off search cubic: seconds
    # for a 2 kB report, so a hostile mailbox could stall ingestion.
    rule = b"=" * 76 + b"\n"
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\nSubject: Delivery status notification\n\n"
        + (rule + b"   Technical details:\n" + rule + b"\n") * 20
        + b"SMTP:RCPT host 192.0.2.1: 550 5.1.1 <gone@example.jp>... No such user\n"
    )
    started = time.perf_counter()
    parse_message(raw)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b'Content-Type: multipart/report; boundary="x"\n\n--x\n'
        b"Content-Type: message/delivery-status\n",
        b"Content-Type: text/plain; charset=no-such-charset\n\n\xe9\xe8",
        b"Content-Transfer-Encoding: base64\nContent-Type: message/delivery-status\n\n!!!!",
    ],
)
def test_broken_input_gives_an_empty_result(raw: bytes) -> None:
    result = parse_message(raw)
    assert result.kind in set(Kind)
    assert isinstance(result.recipients, tuple)


def test_non_bytes_is_refused() -> None:
    with pytest.raises(TypeError):
        parse_message("text")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(parse_message(raw), ParsedMessage)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_inside_a_report_never_raise(noise: bytes) -> None:
    assert isinstance(parse_message(_DSN[: len(_DSN) // 2] + noise), ParsedMessage)


_WRONG_BOUNDARY = b"""From: MAILER-DAEMON@mx.example.net
To: sender@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="DECLARED.1/mx"

--USED.2/mx
Content-Type: text/plain

<gone@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1 User unknown
    (in reply to RCPT TO command)

--USED.2/mx
Content-Type: message/delivery-status

Final-Recipient: rfc822; gone@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--USED.2/mx--
"""


def test_a_boundary_the_body_does_not_use_is_repaired() -> None:
    result = parse_message(_WRONG_BOUNDARY)
    assert [(r.recipient, r.reason) for r in result.recipients] == [
        ("gone@example.jp", Reason.USER_UNKNOWN)
    ]


def test_a_multipart_without_any_delimiter_is_read_as_text() -> None:
    raw = _WRONG_BOUNDARY.replace(b"--USED.2/mx--\n", b"").replace(b"--USED.2/mx\n", b"")
    result = parse_message(raw)
    assert [r.recipient for r in result.recipients] == ["gone@example.jp"]


def test_the_remote_code_inside_a_generic_status_decides() -> None:
    raw = _DSN.replace(b"Status: 5.1.1", b"Status: 5.0.0").replace(
        b"550 5.1.1 <kijitora@example.jp>: Recipient address rejected:\n    User unknown",
        b"550 5.2.2 <kijitora@example.jp>: Mailbox full",
    )
    first = parse_message(raw).recipients[0]
    assert (first.status, first.reason) == ("5.2.2", Reason.MAILBOX_FULL)


def test_the_remote_code_beats_a_queue_verdict_of_the_same_class() -> None:
    raw = _DSN.replace(b"Status: 5.1.1", b"Status: 4.4.7").replace(
        b"550 5.1.1 <kijitora@example.jp>: Recipient address rejected:\n    User unknown",
        b"450 4.7.1 Access denied. IP name lookup failed [192.0.2.1]",
    )
    first = parse_message(raw).recipients[0]
    assert (first.status, first.group) == ("4.7.1", Group.NOT_RECIPIENT)


def test_a_remote_code_of_another_class_does_not_replace_the_status() -> None:
    raw = _DSN.replace(b"Status: 5.1.1", b"Status: 4.5.0").replace(
        b"550 5.1.1 <kijitora@example.jp>: Recipient address rejected:\n    User unknown",
        b"550 5.5.0 try again",
    )
    assert parse_message(raw).recipients[0].status == "4.5.0"


def test_powermta_bounce_category_names_the_reason() -> None:
    raw = _DSN.replace(
        b"Status: 5.1.1\n", b"Status: 5.0.0\nX-PowerMTA-BounceCategory: quota-issues\n"
    )
    assert parse_message(raw).recipients[0].reason is Reason.MAILBOX_FULL


def test_a_report_sent_to_the_failed_address_itself_names_it() -> None:
    raw = b"""From: Mail Delivery System <mailer-daemon@mx.example.net>
To: self@example.fr
Subject: Mail delivery failed: returning message to sender

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address(es)
failed:

self@example.fr:
SMTP error from remote server for TEXT command, host: smtp-in.example.fr
reason: 550 5.7.1 Message rejected as spam
"""
    result = parse_message(raw)
    assert [(r.recipient, r.command, r.group) for r in result.recipients] == [
        ("self@example.fr", "DATA", Group.NOT_RECIPIENT)
    ]


def test_utf8_body_labelled_iso_2022_jp_is_read() -> None:
    raw = (
        "From: no-reply@example.jp\nTo: <me@example.org>\nSubject: メールエラー通知\n"
        'Content-Type: text/plain; charset="ISO-2022-JP"\n\n'
        "送信先のメールボックスが一杯のため、送信できませんでした。\n\n"
        "     Could not be delivered to: <full@example.jp>\n     As their mailbox is full.\n"
    ).encode()
    result = parse_message(raw)
    assert [(r.recipient, r.reason) for r in result.recipients] == [
        ("full@example.jp", Reason.MAILBOX_FULL)
    ]


def test_an_mbox_of_reports_gives_every_recipient() -> None:
    second = _DSN.replace(b"Kijitora@Example.JP", b"other@example.jp").replace(
        b"kijitora@example.jp", b"other@example.jp"
    )
    raw = b"From MAILER-DAEMON Thu Apr 29 23:34:45 2015\n" + _DSN + b"\n"
    raw += b"From MAILER-DAEMON Thu Apr 29 23:34:46 2015\n" + second
    result = parse_message(raw)
    assert result.kind is Kind.DSN
    assert [r.recipient for r in result.recipients] == [
        "kijitora@example.jp",
        "neko@example.jp",
        "other@example.jp",
    ]


def test_a_dsn_forwarded_as_an_attachment_is_read() -> None:
    raw = (
        b"""From: MAILER-DAEMON@gw.example.net
To: sender@example.org
Subject: Returned mail: User unknown
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUT"

--OUT
Content-Type: text/plain

----- The following addresses had permanent delivery errors -----

--OUT
Content-Type: message/rfc822

"""
        + _DSN
        + b"\n--OUT--\n"
    )
    result = parse_message(raw)
    assert result.recipients[0].recipient == "kijitora@example.jp"
    assert result.recipients[0].reason is Reason.USER_UNKNOWN


def test_auto_submitted_auto_replied_alone_is_an_autoreply() -> None:
    raw = b"""From: <noreply@example.com>
To: <news@example.org>
Subject: AutoRespons :Nyaan?
Auto-Submitted: auto-replied

This inbox is no longer in use. Please contact someone else.
"""
    result = parse_message(raw)
    assert result.kind is Kind.AUTOREPLY
    assert [r.group for r in result.recipients] == [Group.IGNORE]


def test_fml_refusal_names_the_list_address() -> None:
    raw = b"""From: cats-admin@example.org
To: someone@example.net
Subject: You someone@example.net are not member (cats ML)
Message-ID: <200504292334.FMLFFFFFF0.cats@example.org>
X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]

You are not a member of this mailing list <cats@example.org>.

If you know the general guide of this list, please send mail to

\tcats-ctl@example.org
"""
    result = parse_message(raw)
    assert [(r.recipient, r.reason) for r in result.recipients] == [
        ("cats@example.org", Reason.REJECTED)
    ]


def test_delivery_to_a_pipe_is_a_mailer_error() -> None:
    raw = _DSN.replace(
        b"Action: failed\nStatus: 5.1.1",
        b"X-Actual-Recipient: rfc822; |/usr/bin/procmail\nAction: failed\nStatus: 5.5.0",
    ).replace(b"Diagnostic-Code: smtp; 550 5.1.1", b"X-Diagnostic: 550 5.5.0")
    assert parse_message(raw).recipients[0].reason is Reason.MAILER_ERROR


def test_yahoo_reply_quoting_the_recipient_answered_rcpt() -> None:
    raw = (
        b"From: MAILER-DAEMON@yahoo.com\nTo: s@example.org\nSubject: Failure Notice\n"
        b"X-YMailISG: abc\n\n"
        b"Sorry, we were unable to deliver your message to the following address.\n\n"
        b"<gone@example.jp>:\n550: <gone@example.jp>: User unknown\n\n"
        b"--- Below this line is a copy of the message.\n"
    )
    (found,) = parse_message(raw).recipients
    assert (found.recipient, found.command, found.reason) == (
        "gone@example.jp",
        "RCPT",
        Reason.USER_UNKNOWN,
    )


def test_a_source_routed_final_recipient_gives_way_to_the_original() -> None:
    raw = _DSN.replace(
        b"Final-Recipient: rfc822; Kijitora@Example.JP\n",
        b"Original-Recipient: rfc822;kijitora@example.jp\n"
        b"Final-Recipient: rfc822;@smtp.example.jp:kijitora@server\n",
    )
    assert parse_message(raw).recipients[0].recipient == "kijitora@example.jp"


def test_a_final_recipient_that_is_a_pipe_is_a_mailer_error() -> None:
    raw = _DSN.replace(
        b"Final-Recipient: rfc822; Kijitora@Example.JP\nAction: failed\nStatus: 5.1.1",
        b"Final-Recipient: rfc822;|/usr/local/bin/app kijitora@example.jp\n"
        b"Action: failed\nStatus: 5.0.0",
    ).replace(b"Diagnostic-Code: smtp; 550 5.1.1", b"X-Diagnostic: 550 5.1.1")
    first = parse_message(raw).recipients[0]
    assert (first.recipient, first.reason) == ("kijitora@example.jp", Reason.MAILER_ERROR)


def test_delivery_status_fields_in_the_text_part_are_not_a_diagnostic() -> None:
    raw = b"""From: MAILER-DAEMON@mx.example.net
To: sender@example.org
Subject: Returned mail
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Reporting-MTA: dns; mx.example.net

Original-Recipient: rfc822;late@example.jp
Final-Recipient: rfc822;late@example.jp
Action: delayed
Status: 4.0.0 (example.jp: host name lookup failure)

--B--
"""
    (found,) = parse_message(raw).recipients
    assert (found.recipient, found.reason) == ("late@example.jp", Reason.EXPIRED)


_V5_SENDMAIL = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: sender@example.jp
Subject: Returned mail: User unknown

   ----- Transcript of session follows -----
While talking to mx.example.edu:
>>> DATA
<<< 550 Go away
421 example.edu (smtp)... Deferred: Connection reset by peer during result wait
554 <first@example.edu>... Remote protocol error
550 example.org (smtp)... 550 Host unknown
554 <second@example.org>... 550 Host unknown (Authoritative answer from name server)
While talking to mx.example.net:
>>> RCPT To:<third@example.net>
<<< 550 No such user here.
550 <third@example.net>... User unknown

   ----- Unsent message follows -----
"""


def test_a_sendmail_session_belongs_to_the_recipient_line_after_it() -> None:
    found = {r.recipient: r.group for r in parse_message(_V5_SENDMAIL).recipients}
    assert found == {
        "first@example.edu": Group.NOT_RECIPIENT,
        "second@example.org": Group.PERMANENT,
        "third@example.net": Group.PERMANENT,
    }


def test_a_sending_host_called_an_open_relay_is_blocked() -> None:
    text = "501 <s@example.jp>... no access from mail server [192.0.2.5] which is an open relay."
    assert classify(status="5.0.0", diagnostic=text, command="MAIL") is Reason.BLOCKED


def test_a_dsn_pasted_into_a_plain_text_report_is_read() -> None:
    raw = (
        b"From: MAILER-DAEMON@gw.example.net\nTo: sender@example.org\n"
        b"Subject: Undelivered Mail Returned to Sender\nContent-Type: text/plain\n\n"
        b"The message returned below could not be delivered.\n"
        b"For further assistance, please contact <support@gw.example.net>\n\n"
        b"---------------------------------\n"
        b"From MAILER-DAEMON  Thu Apr 29 23:34:45 2015\n" + _DSN
    )
    result = parse_message(raw)
    assert [r.recipient for r in result.recipients] == ["kijitora@example.jp", "neko@example.jp"]


def test_a_report_naming_nobody_is_about_the_originals_only_addressee() -> None:
    raw = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: sender@example.jp
Subject: Returned mail: Cannot send message for 4 days

   ----- Transcript of session follows -----
421 example.com (smtp)... Deferred: Connection timed out during user open with example.com

   ----- Unsent message follows -----
From: sender@example.jp
To: kijitora@example.com
Subject: Hello

Hello
"""
    (found,) = parse_message(raw).recipients
    assert (found.recipient, found.reason) == ("kijitora@example.com", Reason.EXPIRED)


def test_an_original_with_several_addressees_names_nobody() -> None:
    raw = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: sender@example.jp
Subject: Returned mail: see transcript for details

   ----- Transcript of session follows -----
421 example.com (smtp)... Deferred: Connection timed out during user open with example.com

   ----- Unsent message follows -----
From: sender@example.jp
To: a@example.com, b@example.com
Subject: Hello
"""
    assert parse_message(raw).recipients == ()


def test_postfix_smtp_server_error_transcript_names_the_recipient() -> None:
    raw = b"""From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: postmaster@mx.example.com (Postmaster)
Subject: Postfix SMTP server: errors from localhost[127.0.0.1]

Transcript of session follows.

 Out: 220 mx.example.com ESMTP
 In:  MAIL FROM:<sender@example.org>
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<kijitora@example.net>
 Out: 250 2.1.5 Ok
 In:  DATA
 Out: 354 End data with <CR><LF>.<CR><LF>
 Out: 451 4.3.0 Error: queue file write error
 In:  QUIT
 Out: 221 2.0.0 Bye
"""
    (found,) = parse_message(raw).recipients
    assert (found.recipient, found.status, found.reason) == (
        "kijitora@example.net",
        "4.3.0",
        Reason.SYSTEM_ERROR,
    )
