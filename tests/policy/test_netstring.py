"""Netstring framing, fed the same streams whole and in 1-, 16- and 4096-byte chunks.

``vectors/postfix-3.7-socketmap-two-keys.bin`` is what Postfix 3.7.11's socketmap client
(``postmap -q - socketmap:inet:...:suppressed``) sent for two keys, one of them UTF-8.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.policy.errors import ProtocolError
from vault.policy.netstring import NetstringDecoder, encode

from .streams import CHUNK_SIZES, feed_in_chunks

POSTFIX_STREAM = (
    Path(__file__).parent / "vectors" / "postfix-3.7-socketmap-two-keys.bin"
).read_bytes()


def decode_all(data: bytes, size: int | None = None, *, max_length: int = 4096) -> list[bytes]:
    decoder = NetstringDecoder(max_length=max_length)
    payloads = feed_in_chunks(decoder.feed, data, size or max(len(data), 1))
    decoder.finish()
    return payloads


@pytest.mark.parametrize("size", [None, *CHUNK_SIZES])
def test_postfix_stream_decodes_whatever_the_chunking(size: int | None) -> None:
    assert decode_all(POSTFIX_STREAM, size) == [
        b"suppressed first@example.org",
        "suppressed José@bücher.example".encode(),
    ]


def test_encode_examples() -> None:
    assert encode(b"") == b"0:,"
    assert encode(b"NOTFOUND ") == b"9:NOTFOUND ,"
    assert encode("é".encode()) == b"2:\xc3\xa9,"


@pytest.mark.parametrize("size", [None, *CHUNK_SIZES])
def test_empty_netstrings_and_a_payload_with_colons_and_commas(size: int | None) -> None:
    assert decode_all(b"0:,0:,5:a:b,c,", size) == [b"", b"", b"a:b,c"]


def test_a_length_of_exactly_the_maximum_is_accepted() -> None:
    assert decode_all(encode(b"x" * 4096), max_length=4096) == [b"x" * 4096]


MALFORMED = {
    "length over the maximum": (b"4097:" + b"x" * 4097 + b",", "longer than 4096 bytes"),
    "too many digits": (b"000000001:x,", "leading zero"),
    "huge length, no colon yet": (b"99999999999", "longer than 4096 bytes"),
    "non-digit length": (b"1a:x,", "not a digit"),
    "negative length": (b"-1:x,", "not a digit"),
    "no length": (b":x,", "no length"),
    "leading zero": (b"01:x,", "leading zero"),
    "bad terminator": (b"3:abc;", "does not end with ','"),
    "truncated payload": (b"5:abc", "ended inside"),
    "truncated before comma": (b"3:abc", "ended inside"),
    "truncated length": (b"12", "ended inside"),
}


@pytest.mark.parametrize("size", [None, *CHUNK_SIZES])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_raises_protocol_error(case: str, size: int | None) -> None:
    data, message = MALFORMED[case]
    with pytest.raises(ProtocolError, match=message):
        decode_all(data, size)


def test_a_broken_decoder_stays_broken() -> None:
    decoder = NetstringDecoder(max_length=10)
    with pytest.raises(ProtocolError):
        decoder.feed(b"x")
    with pytest.raises(ProtocolError, match="already broken"):
        decoder.feed(b"1:a,")


def test_negative_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        NetstringDecoder(max_length=-1)


@given(st.binary(max_size=300), st.sampled_from(CHUNK_SIZES))
def test_random_bytes_raise_nothing_but_protocol_error(data: bytes, size: int) -> None:
    decoder = NetstringDecoder(max_length=50)
    try:
        feed_in_chunks(decoder.feed, data, size)
        decoder.finish()
    except ProtocolError:
        pass


@given(st.lists(st.binary(max_size=200), max_size=6), st.sampled_from(CHUNK_SIZES))
def test_encode_then_decode_round_trips(payloads: list[bytes], size: int) -> None:
    data = b"".join(encode(p) for p in payloads)
    assert decode_all(data, size, max_length=200) == payloads
