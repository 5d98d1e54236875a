"""The parts of a report as the parsers see them: report parts, not the returned original's."""

from __future__ import annotations

from vault.bounces.mime import find_parts, load, walk_outer

REPORT = b"""From: MAILER-DAEMON@mx.example
To: sender@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="outer"

--outer

A part without any header of its own: text/plain by default.

--outer
Content-Type: message/delivery-status

Final-Recipient: rfc822; someone@corp.example
Status: 5.1.1

--outer
Content-Type: message/rfc822

From: sender@example.org
To: someone@corp.example
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

the original's own text
--inner
Content-Type: message/delivery-status

Not a report part: it is inside the returned original.
--inner--

--outer--
"""


def test_report_parts_only_and_the_same_answer_every_time() -> None:
    msg = load(REPORT)
    assert msg is not None
    leaves = walk_outer(msg)
    # The header-less part is itself (an empty Message is falsy: it must not become the root);
    # the stdlib reads a delivery-status part's field blocks as parts of their own.
    assert [part.get_content_type() for part in leaves] == ["text/plain", "text/plain"]
    assert leaves[0] is not msg and not list(leaves[0].keys())
    [status] = find_parts(msg, "message/delivery-status")  # not the returned original's
    assert leaves[1] is status.get_payload()[0]
    [original] = find_parts(msg, "message/rfc822")
    assert find_parts(msg, "multipart/report") == [msg]
    assert walk_outer(msg) == leaves and find_parts(msg, "message/rfc822") == [original]
