"""The socketmap request and reply formats (socketmap_table(5))."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.policy.errors import ProtocolError
from vault.policy.socketmap import (
    MAX_REPLY_CHARS,
    SocketmapStatus,
    format_socketmap_reply,
    parse_socketmap_request,
    socketmap_reply,
)


def test_request_splits_at_the_first_space() -> None:
    request = parse_socketmap_request(b"suppressed a b@example.org")
    assert (request.name, request.key) == ("suppressed", "a b@example.org")


def test_request_key_may_be_utf8() -> None:
    assert parse_socketmap_request("transport José@bücher.example".encode()).key == (
        "José@bücher.example"
    )


def test_request_repr_hides_the_key() -> None:
    request = parse_socketmap_request(b"suppressed canary-zq7x@example.org")
    assert "canary" not in repr(request)
    assert "suppressed" in repr(request)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"suppressed", "not 'name key'"),
        (b" key@example.org", "not 'name key'"),
        (b"", "not 'name key'"),
        (b"suppressed \xff@example.org", "not valid UTF-8"),
    ],
)
def test_malformed_requests(payload: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_socketmap_request(payload)


@pytest.mark.parametrize(
    ("status", "text", "wire"),
    [
        (SocketmapStatus.OK, "550 5.7.1 x", b"14:OK 550 5.7.1 x,"),
        (SocketmapStatus.NOTFOUND, "", b"9:NOTFOUND ,"),
        (SocketmapStatus.TEMP, "store down", b"15:TEMP store down,"),
        (SocketmapStatus.PERM, "unknown map name", b"21:PERM unknown map name,"),
    ],
)
def test_replies_on_the_wire(status: SocketmapStatus, text: str, wire: bytes) -> None:
    assert format_socketmap_reply(socketmap_reply(status, text)) == wire


def test_notfound_carries_no_text() -> None:
    with pytest.raises(ValueError, match="no text"):
        socketmap_reply(SocketmapStatus.NOTFOUND, "because")


def test_reply_over_postfix_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="100000"):
        format_socketmap_reply("OK " + "x" * MAX_REPLY_CHARS)


@given(st.binary(max_size=200))
def test_random_payloads_raise_nothing_but_protocol_error(payload: bytes) -> None:
    try:
        request = parse_socketmap_request(payload)
    except ProtocolError:
        return
    assert request.name
    assert " " not in request.name
