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


def test_open_rows_opens_what_open_opens_and_marks_the_rest(keyring) -> None:
    cipher = LocalPartCipher(keyring)
    rows = [(uuid.uuid4(), f"d{i}.example") for i in range(6)]
    sealed = [
        cipher.seal(local, subscriber_id=row, domain=domain)
        for local, (row, domain) in zip(["a", "José", '"b c"', "d", "e", "f"], rows, strict=True)
    ]
    keyring.add_version(Purpose.ADDRESS)
    rotated = LocalPartCipher(keyring)
    newer = rotated.seal("g", subscriber_id=rows[5][0], domain=rows[5][1])
    unknown = sealed[3][:1] + (0x7FFFFFFE).to_bytes(4, "big") + sealed[3][5:]
    inputs = [
        (rows[0][0].bytes, rows[0][1], sealed[0]),
        (rows[1][0].bytes, rows[1][1], sealed[1]),
        (rows[2][0].bytes, rows[2][1], sealed[2]),
        (rows[1][0].bytes, rows[1][1], sealed[0]),  # moved to another row
        (rows[3][0].bytes, rows[3][1], unknown),  # names a key the keyring lacks
        (rows[4][0].bytes, rows[4][1], sealed[4][:10]),  # truncated
        (rows[4][0].bytes, "dé.example", sealed[4]),  # a domain nothing was sealed with
        (rows[5][0].bytes, rows[5][1], newer),
    ]
    key_ids: set[int] = set()
    opened = rotated.open_rows(inputs, key_ids=key_ids)
    assert opened == ["a", "José", '"b c"', None, None, None, None, "g"]
    assert key_ids == {sealed_key_id(sealed[0]), sealed_key_id(newer)}
    for (row, domain, data), local in zip(inputs, opened, strict=True):
        if local is not None:
            assert rotated.open(data, subscriber_id=uuid.UUID(bytes=row), domain=domain) == local


def test_open_rows_counts_only_keys_that_opened_something(keyring) -> None:
    cipher = LocalPartCipher(keyring)
    row = uuid.uuid4()
    sealed = cipher.seal("a", subscriber_id=row, domain="example.com")
    key_ids: set[int] = set()
    assert cipher.open_rows([(uuid.uuid4().bytes, "example.com", sealed)], key_ids=key_ids) == [
        None
    ]
    assert key_ids == set()
