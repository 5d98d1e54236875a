"""Enhanced status codes: extraction from text and the code table."""

from __future__ import annotations

import pytest

from vault.bounces import Reason
from vault.bounces.status import (
    find_remote_status,
    find_reply_code,
    find_status,
    normalize_status,
    reason_for_status,
)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("5.1.1", Reason.USER_UNKNOWN),
        ("5.1.2", Reason.HOST_UNKNOWN),
        ("5.1.3", Reason.BAD_ADDRESS),
        ("5.1.6", Reason.HAS_MOVED),
        ("5.1.10", Reason.NOT_ACCEPT),
        ("5.2.2", Reason.MAILBOX_FULL),
        ("4.2.2", Reason.MAILBOX_FULL),
        ("5.2.1", Reason.FILTERED),
        ("4.2.1", Reason.SUSPENDED),
        ("5.3.4", Reason.MESSAGE_TOO_BIG),
        ("4.4.7", Reason.EXPIRED),
        ("5.4.4", Reason.HOST_UNKNOWN),
        ("5.6.0", Reason.CONTENT_ERROR),
        ("5.7.1", Reason.SECURITY_ERROR),
        ("5.7.26", Reason.SECURITY_ERROR),
        ("5.7.27", Reason.NOT_ACCEPT),
        ("2.1.5", Reason.DELIVERED),
    ],
)
def test_code_table(code: str, reason: Reason) -> None:
    assert reason_for_status(code) is reason


@pytest.mark.parametrize("code", ["5.0.0", "4.0.0", "4.4.0", "4.3.0", None, ""])
def test_vague_codes_leave_the_decision_to_the_text(code: str | None) -> None:
    assert reason_for_status(code) is None


def test_find_status_prefers_specific_over_generic_and_skips_ip_addresses() -> None:
    assert find_status("host 192.0.2.153 said: 554 5.0.0 ... 550 5.1.1 User unknown") == "5.1.1"
    assert find_status("connect to 192.0.2.5:25 refused") is None
    assert find_status("Status: 4.4.7 (delivery time expired)") == "4.4.7"
    assert find_status("550 5.0.0 rejected") == "5.0.0"


def test_reply_code_and_status_field() -> None:
    assert find_reply_code("Remote host said: 550 Unknown user") == "550"
    assert normalize_status("5.1.1 (bad destination mailbox)") == "5.1.1"
    assert normalize_status("failed") is None


def test_success_codes_of_a_transcript_give_way_to_the_failure() -> None:
    text = "Out: 250 2.1.5 Ok In: DATA Out: 451 4.3.0 Error Out: 221 2.0.0 Bye"
    assert find_status(text) == "4.3.0"
    assert find_remote_status(text) == "4.3.0"
    assert find_status("250 2.0.0 Ok: queued") == "2.0.0"
