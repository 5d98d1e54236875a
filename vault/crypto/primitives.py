"""The one module that touches ``cryptography.hazmat``: AEAD for local parts and for the
keyring file, and the Argon2id stretch of a passphrase. Everything else imports ``vault.crypto``.
"""

from __future__ import annotations

import os

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

from vault.errors import InvalidCiphertext

NONCE_BYTES = 12
KEY_BYTES = 32


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


class SivCipher:
    """AES-256-GCM-SIV with random 96-bit nonces.

    GCM-SIV rather than GCM: a repeated nonce only reveals that two plaintexts are equal, instead
    of breaking authentication, so a data key may seal far more than GCM's 2^32 random-nonce
    budget (RFC 8452 §9) and we need no per-key encryption counter shared across processes.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM-SIV needs a 32-byte key")
        self._aead = AESGCMSIV(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self.seal_with_nonce(os.urandom(NONCE_BYTES), plaintext, associated_data)

    def seal_many(self, items: list[tuple[bytes, bytes]]) -> list[bytes]:
        """``seal`` for (plaintext, associated data) pairs, drawing all the nonces from the OS in
        one call (still one fresh random nonce per ciphertext): bulk sealing of an import, a
        rewrap, or a release's unsubscribe tokens."""
        nonces = os.urandom(NONCE_BYTES * len(items))
        encrypt = self._aead.encrypt
        sealed = []
        for start, (plaintext, associated_data) in zip(
            range(0, len(nonces), NONCE_BYTES), items, strict=True
        ):
            nonce = nonces[start : start + NONCE_BYTES]
            sealed.append(nonce + encrypt(nonce, plaintext, associated_data))
        return sealed

    def seal_with_nonce(self, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Deterministic form, for published test vectors; ``seal`` draws the nonce."""
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        if len(sealed) < NONCE_BYTES + 16:
            raise InvalidCiphertext("ciphertext is truncated")
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise InvalidCiphertext("ciphertext does not authenticate") from None


def kek_seal(kek: bytes, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
    """Seal the keyring payload under the key-encryption key; returns (nonce, ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(kek).encrypt(nonce, plaintext, associated_data)


def kek_open(kek: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag:
        raise InvalidCiphertext("keyring does not authenticate under this KEK") from None


def stretch_passphrase(
    passphrase: str, *, salt: bytes, time_cost: int, memory_cost_kib: int, parallelism: int
) -> bytes:
    """Argon2id, the low-level raw form: the parameters live in the keyring file beside the salt."""
    return hash_secret_raw(
        secret=passphrase.encode("utf-8"),
        salt=salt,
        time_cost=time_cost,
        memory_cost=memory_cost_kib,
        parallelism=parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )
