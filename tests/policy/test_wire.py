"""The policy delegation parser, fed the same streams whole and in 1-, 16- and 4096-byte chunks.

``vectors/postfix-3.7-policy-two-rcpt.txt`` is what Postfix 3.7.11 sent for two RCPT commands
on one connection (captured from the harness's Postfix, addresses made up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.policy.errors import ProtocolError
from vault.policy.wire import (
    MAX_ATTRIBUTES,
    MAX_LINE_BYTES,
    PolicyRequest,
    PolicyRequestParser,
    format_response,
)

from .streams import CHUNK_SIZES, feed_in_chunks

VECTORS = Path(__file__).parent / "vectors"
POSTFIX_STREAM = (VECTORS / "postfix-3.7-policy-two-rcpt.txt").read_bytes()


def parse_all(data: bytes, size: int | None = None) -> list[PolicyRequest]:
    parser = PolicyRequestParser()
    requests = feed_in_chunks(parser.feed, data, size or max(len(data), 1))
    parser.finish()
    return requests


@pytest.mark.parametrize("size", [None, *CHUNK_SIZES])
def test_postfix_stream_parses_into_two_requests_whatever_the_chunking(size: int | None) -> None:
    requests = parse_all(POSTFIX_STREAM, size)

    assert [r.recipient for r in requests] == ["first@example.org", "second@example.net"]
    first = requests[0]
    assert first.request == "smtpd_access_policy"
    assert first.protocol_state == "RCPT"
    assert first.sender == "news@sender.example"
    assert first.client_address == "127.0.0.1"
    assert first.queue_id == ""
    assert first.sasl_username == ""
    assert first.attributes["size"] == "123"
    assert len(first.attributes) == 29


def test_chunked_and_whole_parsing_agree_attribute_for_attribute() -> None:
    whole = [dict(r.attributes) for r in parse_all(POSTFIX_STREAM)]
    for size in CHUNK_SIZES:
        assert [dict(r.attributes) for r in parse_all(POSTFIX_STREAM, size)] == whole


def test_crlf_lines_from_a_person_testing_by_hand_parse_too() -> None:
    (request,) = parse_all(b"protocol_state=RCPT\r\nrecipient=a@example.org\r\n\r\n")
    assert request.recipient == "a@example.org"


def test_value_may_contain_equals_and_be_empty() -> None:
    (request,) = parse_all(b"ccert_subject=CN=x=y\nqueue_id=\n\n")
    assert request.attributes["ccert_subject"] == "CN=x=y"
    assert request.queue_id == ""


def test_missing_attributes_read_as_empty() -> None:
    (request,) = parse_all(b"request=smtpd_access_policy\n\n")
    assert (request.recipient, request.sender, request.protocol_state) == ("", "", "")


def test_repeated_name_keeps_the_last_value() -> None:
    (request,) = parse_all(b"recipient=a@example.org\nrecipient=b@example.org\n\n")
    assert request.recipient == "b@example.org"


def test_an_empty_line_alone_is_an_empty_request() -> None:
    assert [dict(r.attributes) for r in parse_all(b"\n")] == [{}]


def test_attributes_are_read_only() -> None:
    (request,) = parse_all(b"recipient=a@example.org\n\n")
    with pytest.raises(TypeError):
        request.attributes["recipient"] = "b@example.org"  # type: ignore[index]


def test_repr_shows_no_address() -> None:
    (request,) = parse_all(b"protocol_state=RCPT\nrecipient=canary-zq7x@example.org\n\n")
    assert "canary" not in repr(request)
    assert "RCPT" in repr(request)


def test_a_line_of_exactly_the_limit_is_accepted() -> None:
    value = "x" * (MAX_LINE_BYTES - len("ccert_subject="))
    (request,) = parse_all(f"ccert_subject={value}\n\n".encode())
    assert request.attributes["ccert_subject"] == value


def test_exactly_the_maximum_number_of_attributes_is_accepted() -> None:
    lines = b"".join(b"a%d=1\n" % i for i in range(MAX_ATTRIBUTES))
    (request,) = parse_all(lines + b"\n")
    assert len(request.attributes) == MAX_ATTRIBUTES


MALFORMED = {
    "long line": (b"recipient=" + b"x" * MAX_LINE_BYTES + b"\n\n", "longer than 4096 bytes"),
    "long line without newline": (b"x" * (MAX_LINE_BYTES + 1), "longer than 4096 bytes"),
    "too many attributes": (
        b"".join(b"a%d=1\n" % i for i in range(MAX_ATTRIBUTES + 1)) + b"\n",
        "more than 100 attributes",
    ),
    "invalid utf-8": (b"recipient=\xff\xfe@example.org\n\n", "not valid UTF-8"),
    "no equals sign": (b"protocol_state=RCPT\nrecipient\n\n", "line 2 of a request has no '='"),
    "empty name": (b"=value\n\n", "empty name"),
    "truncated request": (b"protocol_state=RCPT\nrecipient=a@example.org\n", "ended inside"),
    "truncated line": (b"protocol_state=RCPT\nrecipi", "ended inside"),
}


@pytest.mark.parametrize("size", [None, *CHUNK_SIZES])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_raises_protocol_error_naming_the_problem(
    case: str, size: int | None
) -> None:
    data, message = MALFORMED[case]
    with pytest.raises(ProtocolError, match=message):
        parse_all(data, size)


def test_errors_never_quote_the_input() -> None:
    parser = PolicyRequestParser()
    with pytest.raises(ProtocolError) as caught:
        parser.feed(b"recipient=canary-zq7x@example.org\xff\n\n")
    assert "canary" not in str(caught.value)


def test_a_broken_parser_stays_broken() -> None:
    parser = PolicyRequestParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"no-equals\n")
    with pytest.raises(ProtocolError, match="already broken"):
        parser.feed(b"recipient=a@example.org\n\n")
    with pytest.raises(ProtocolError, match="already broken"):
        parser.finish()


def test_requests_before_the_long_line_in_another_chunk_are_returned() -> None:
    parser = PolicyRequestParser()
    assert [r.recipient for r in parser.feed(b"recipient=a@example.org\n\n")] == ["a@example.org"]
    with pytest.raises(ProtocolError):
        parser.feed(b"y" * (MAX_LINE_BYTES + 1))


def test_custom_limits_are_honoured() -> None:
    parser = PolicyRequestParser(max_line_bytes=8, max_attributes=1)
    with pytest.raises(ProtocolError, match="longer than 8 bytes"):
        parser.feed(b"a=123456789\n")
    parser = PolicyRequestParser(max_line_bytes=8, max_attributes=1)
    with pytest.raises(ProtocolError, match="more than 1 attributes"):
        parser.feed(b"a=1\nb=2\n")


@given(st.binary(max_size=600), st.sampled_from(CHUNK_SIZES))
def test_random_bytes_raise_nothing_but_protocol_error(data: bytes, size: int) -> None:
    parser = PolicyRequestParser(max_line_bytes=64, max_attributes=5)
    try:
        feed_in_chunks(parser.feed, data, size)
        parser.finish()
    except ProtocolError:
        pass


def _chars(*, exclude: str) -> st.SearchStrategy[str]:
    # Surrogates cannot be UTF-8 encoded, so no peer can send them.
    surrogates: tuple[Literal["Cs"]] = ("Cs",)
    return st.characters(exclude_categories=surrogates, exclude_characters=exclude)


@given(
    st.lists(
        st.dictionaries(
            st.text(_chars(exclude="=\r\n"), min_size=1),
            st.text(_chars(exclude="\r\n")),
            max_size=8,
        ),
        max_size=4,
    ),
    st.sampled_from(CHUNK_SIZES),
)
def test_any_well_formed_stream_round_trips(requests: list[dict[str, str]], size: int) -> None:
    data = b"".join(
        b"".join(f"{k}={v}\n".encode() for k, v in attrs.items()) + b"\n" for attrs in requests
    )
    parser = PolicyRequestParser(max_line_bytes=1 << 20)
    assert [dict(r.attributes) for r in feed_in_chunks(parser.feed, data, size)] == requests


def test_format_response() -> None:
    assert format_response("DUNNO") == b"action=DUNNO\n\n"
    assert (
        format_response("550 5.7.1 Recipient suppressed (unsubscribe)")
        == b"action=550 5.7.1 Recipient suppressed (unsubscribe)\n\n"
    )


@pytest.mark.parametrize("action", ["", "DUNNO\n\naction=OK", "REJECT\r"])
def test_format_response_refuses_what_would_break_the_framing(action: str) -> None:
    with pytest.raises(ValueError, match="one non-empty line"):
        format_response(action)
