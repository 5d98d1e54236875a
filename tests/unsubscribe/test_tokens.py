"""One-click unsubscribe tokens: round trip, tampering, truncation, other keyrings, opacity."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from tests.conftest import FAST_ARGON2, TEST_PASSPHRASE
from vault.crypto import (
    Kek,
    Keyring,
    Purpose,
    TokenSealer,
    create_keyring,
    open_token,
    seal_token,
)
from vault.errors import ConfigError, InvalidCiphertext, InvalidToken, NotFound
from vault.unsubscribe import (
    ONE_CLICK,
    create_token,
    list_token_maker,
    list_unsubscribe_headers,
    unsubscribe_url,
    verify_token,
)

SUBSCRIBER = uuid.UUID("0b7c6f5e-8d1a-4c2b-9e3f-5a6b7c8d9e0f")
LIST = uuid.UUID("f1e2d3c4-b5a6-4789-8abc-def012345678")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip(keyring: Keyring) -> None:
    token = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    assert verify_token(keyring, token) == (SUBSCRIBER, LIST)
    assert len(token) == 87 and token.isascii()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_each_token_differs_and_all_verify(keyring: Keyring) -> None:
    tokens = {create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST) for _ in range(20)}
    assert len(tokens) == 20
    assert {verify_token(keyring, t) for t in tokens} == {(SUBSCRIBER, LIST)}


def test_every_flipped_byte_is_refused(keyring: Keyring) -> None:
    raw = unb64(create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST))
    for position in range(len(raw)):
        for flip in (0x01, 0x80):
            altered = bytearray(raw)
            altered[position] ^= flip
            with pytest.raises(InvalidToken):
                verify_token(keyring, b64(bytes(altered)))


def test_every_truncation_and_extension_is_refused(keyring: Keyring) -> None:
    token = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    for length in range(len(token)):
        with pytest.raises(InvalidToken):
            verify_token(keyring, token[:length])
    raw = unb64(token)
    with pytest.raises(InvalidToken):
        verify_token(keyring, b64(raw + b"\0"))


@pytest.mark.parametrize(
    "text",
    ["", "=", "not a token", "a" * 2000, "ÄÖÜ", "AAAA====", "AAAAA", "../../etc/passwd"],
)
def test_garbage_is_refused(keyring: Keyring, text: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(keyring, text)


def test_non_canonical_spellings_are_refused(keyring: Keyring) -> None:
    token = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    for variant in (token + "=", token.replace("-", "+").replace("_", "/"), f" {token}"):
        if variant != token:
            with pytest.raises(InvalidToken):
                verify_token(keyring, variant)


def test_another_keyrings_token_is_refused(keyring: Keyring, tmp_path: Path) -> None:
    other = create_keyring(tmp_path / "other", Kek(passphrase=TEST_PASSPHRASE), **FAST_ARGON2)
    token = create_token(other, subscriber_id=SUBSCRIBER, list_id=LIST)
    with pytest.raises(InvalidToken):
        verify_token(keyring, token)


def test_rotation_keeps_old_tokens_until_their_key_is_retired(keyring: Keyring) -> None:
    old = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    old_key = keyring.primary(Purpose.TOKEN).id
    keyring.add_version(Purpose.TOKEN)
    new = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    assert verify_token(keyring, old) == verify_token(keyring, new) == (SUBSCRIBER, LIST)
    keyring.retire(old_key)
    with pytest.raises(InvalidToken):
        verify_token(keyring, old)
    assert verify_token(keyring, new) == (SUBSCRIBER, LIST)


def test_a_token_sealed_for_another_use_does_not_open(keyring: Keyring) -> None:
    token = seal_token(keyring, SUBSCRIBER.bytes + LIST.bytes, context=b"something-else")
    with pytest.raises(InvalidToken):
        verify_token(keyring, token)
    assert open_token(keyring, token, context=b"something-else") == SUBSCRIBER.bytes + LIST.bytes
    with pytest.raises(InvalidCiphertext):
        open_token(keyring, token, context=b"unsubscribe/one-click")


def test_a_header_naming_a_key_of_another_purpose_is_refused(keyring: Keyring) -> None:
    raw = bytearray(unb64(create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)))
    raw[1:5] = keyring.primary(Purpose.ADDRESS).id.to_bytes(4, "big")
    with pytest.raises(InvalidToken):
        verify_token(keyring, b64(bytes(raw)))


def test_invalid_token_is_a_not_found() -> None:
    assert issubclass(InvalidToken, NotFound)


def test_the_url_holds_no_id_in_any_form(keyring: Keyring) -> None:
    token = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    url = unsubscribe_url("https://lists.example.com/", token)
    assert url == f"https://lists.example.com/u/{token}"
    raw = unb64(token)
    for ident in (SUBSCRIBER, LIST):
        for form in (str(ident), ident.hex, ident.hex.upper(), b64(ident.bytes)[:20]):
            assert form.lower() not in url.lower()
        assert ident.bytes not in raw
        assert ident.bytes[:8] not in raw and ident.bytes[8:] not in raw


def test_list_unsubscribe_headers(keyring: Keyring) -> None:
    token = create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST)
    assert list_unsubscribe_headers("https://lists.example.com", token) == {
        "List-Unsubscribe": f"<https://lists.example.com/u/{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert ONE_CLICK == "List-Unsubscribe=One-Click"
    assert unsubscribe_url("http://localhost:8000", token).startswith("http://localhost:8000/u/")


@pytest.mark.parametrize(
    "base",
    ["http://lists.example.com", "ftp://x", "lists.example.com", "https://a b", "https://x>"],
)
def test_base_urls_that_are_not_https_are_refused(base: str) -> None:
    with pytest.raises(ConfigError):
        unsubscribe_url(base, "token")


def test_list_token_maker_makes_the_same_tokens_with_fresh_nonces(keyring: Keyring) -> None:
    make = list_token_maker(keyring, list_id=LIST)
    others = [uuid.uuid4() for _ in range(5)]
    tokens = make([SUBSCRIBER.bytes, SUBSCRIBER.bytes, *(o.bytes for o in others)])
    first, second = tokens[:2]
    assert first != second and len(first) == len(second) == 87
    assert verify_token(keyring, first) == verify_token(keyring, second) == (SUBSCRIBER, LIST)
    assert [verify_token(keyring, t) for t in tokens[2:]] == [(o, LIST) for o in others]
    # The same header (format and key id) as create_token's.
    assert (
        unb64(first)[:5] == unb64(create_token(keyring, subscriber_id=SUBSCRIBER, list_id=LIST))[:5]
    )
    assert make([]) == []


@pytest.mark.parametrize("size", range(7))
def test_sealing_many_gives_what_sealing_one_by_one_gives(keyring: Keyring, size: int) -> None:
    # All payload lengths modulo 3, so the batch's one base64 encoding is cut at every offset.
    sealer = TokenSealer(keyring, context=b"test")
    same = [bytes([i]) * size for i in range(4)]
    mixed = [bytes([i]) * (size + i) for i in range(4)]
    for payloads in (same, mixed):
        tokens = sealer.seal_many(payloads)
        assert [len(t) for t in tokens] == [len(sealer.seal(p)) for p in payloads]
        assert [open_token(keyring, t, context=b"test") for t in tokens] == payloads
        assert all(t == b64(unb64(t)) for t in tokens), "canonical base64url, no padding"
        assert len({unb64(t)[5:17] for t in tokens}) == len(tokens), "a nonce per token"
