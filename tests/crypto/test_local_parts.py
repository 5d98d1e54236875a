import uuid

import pytest

from vault.crypto import LocalPartCipher, Purpose, sealed_key_id
from vault.errors import InvalidCiphertext, UnknownKey


@pytest.fixture
def cipher(keyring) -> LocalPartCipher:
    return LocalPartCipher(keyring)


def test_round_trip_keeps_case_and_unicode(cipher: LocalPartCipher) -> None:
    row = uuid.uuid4()
    for local in ("Kijitora", "josé.Ñandú", '"john doe"', "a" * 64):
        sealed = cipher.seal(local, subscriber_id=row, domain="example.com")
        assert cipher.open(sealed, subscriber_id=row, domain="example.com") == local


def test_ciphertext_is_self_describing(cipher: LocalPartCipher, keyring) -> None:
    sealed = cipher.seal("kijitora", subscriber_id=uuid.uuid4(), domain="example.com")
    assert sealed[0] == 0x01
    assert sealed_key_id(sealed) == keyring.primary(Purpose.ADDRESS).id
    assert len(sealed) == 1 + 4 + 12 + len("kijitora") + 16


def test_same_plaintext_seals_differently(cipher: LocalPartCipher) -> None:
    row = uuid.uuid4()
    first = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    second = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    assert first != second


def test_every_flipped_bit_is_refused(cipher: LocalPartCipher) -> None:
    row = uuid.uuid4()
    sealed = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    for position in range(len(sealed)):
        for bit in (0x01, 0x80):
            tampered = bytearray(sealed)
            tampered[position] ^= bit
            with pytest.raises(InvalidCiphertext):
                cipher.open(bytes(tampered), subscriber_id=row, domain="example.com")


def test_copied_to_another_row_or_domain_is_refused(cipher: LocalPartCipher) -> None:
    row = uuid.uuid4()
    sealed = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    with pytest.raises(InvalidCiphertext):
        cipher.open(sealed, subscriber_id=uuid.uuid4(), domain="example.com")
    with pytest.raises(InvalidCiphertext):
        cipher.open(sealed, subscriber_id=row, domain="example.net")


def test_truncated_and_unknown_key(cipher: LocalPartCipher) -> None:
    row = uuid.uuid4()
    sealed = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    for cut in (0, 1, 4, 5, 16, len(sealed) - 1):
        with pytest.raises(InvalidCiphertext):
            cipher.open(sealed[:cut], subscriber_id=row, domain="example.com")
    relabelled = sealed[:1] + (0x7FFFFFFE).to_bytes(4, "big") + sealed[5:]
    with pytest.raises(UnknownKey, match="7ffffffe"):
        cipher.open(relabelled, subscriber_id=row, domain="example.com")


def test_other_purpose_keys_cannot_open(cipher: LocalPartCipher, keyring) -> None:
    row = uuid.uuid4()
    sealed = cipher.seal("kijitora", subscriber_id=row, domain="example.com")
    index_key = keyring.primary(Purpose.INDEX).id
    relabelled = sealed[:1] + index_key.to_bytes(4, "big") + sealed[5:]
    with pytest.raises(InvalidCiphertext, match="not an address key"):
        cipher.open(relabelled, subscriber_id=row, domain="example.com")


def test_old_version_still_opens_after_rotation(keyring) -> None:
    row = uuid.uuid4()
    sealed = LocalPartCipher(keyring).seal("kijitora", subscriber_id=row, domain="example.com")
    keyring.add_version(Purpose.ADDRESS)
    rotated = LocalPartCipher(keyring)
    assert rotated.open(sealed, subscriber_id=row, domain="example.com") == "kijitora"
    assert sealed_key_id(
        rotated.seal("x", subscriber_id=row, domain="example.com")
    ) != sealed_key_id(sealed)
