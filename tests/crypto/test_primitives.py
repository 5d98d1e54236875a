import json
from pathlib import Path

import pytest

from vault.crypto import hmac_sha256
from vault.crypto.primitives import SivCipher
from vault.errors import InvalidCiphertext

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@pytest.mark.parametrize(
    "case", json.loads((VECTORS / "hmac_sha256_rfc4231.json").read_text())["cases"]
)
def test_hmac_sha256_matches_rfc4231(case: dict[str, str]) -> None:
    mac = hmac_sha256(bytes.fromhex(case["key"]))(bytes.fromhex(case["data"]))
    assert mac.hex() == case["mac"]


@pytest.mark.parametrize(
    "case", json.loads((VECTORS / "aes_256_gcm_siv_rfc8452.json").read_text())["cases"]
)
def test_gcm_siv_matches_rfc8452(case: dict[str, str]) -> None:
    cipher = SivCipher(bytes.fromhex(case["key"]))
    nonce = bytes.fromhex(case["nonce"])
    sealed = cipher.seal_with_nonce(
        nonce, bytes.fromhex(case["plaintext"]), bytes.fromhex(case["aad"])
    )
    assert sealed[12:].hex() == case["result"]
    assert cipher.open(sealed, bytes.fromhex(case["aad"])).hex() == case["plaintext"]


def test_open_refuses_short_and_wrong_input() -> None:
    cipher = SivCipher(bytes(32))
    with pytest.raises(InvalidCiphertext):
        cipher.open(b"short", b"")
    sealed = cipher.seal(b"kijitora", b"row-1")
    with pytest.raises(InvalidCiphertext):
        cipher.open(sealed, b"row-2")


def test_seal_many_seals_each_with_its_own_nonce() -> None:
    cipher = SivCipher(bytes(range(32)))
    plaintexts = [b"", b"kijitora", b"kijitora", b"x" * 100]
    sealed = cipher.seal_many([(p, b"context-%d" % i) for i, p in enumerate(plaintexts)])
    assert [cipher.open(s, b"context-%d" % i) for i, s in enumerate(sealed)] == plaintexts
    assert len({s[:12] for s in sealed}) == len(sealed)
    assert cipher.seal_many([]) == []


def test_key_length_is_enforced() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        SivCipher(bytes(16))
