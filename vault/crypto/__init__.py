"""Cryptography behind one door: keyring, local-part sealing and keyed digests.

Only ``vault.crypto.primitives`` imports ``cryptography.hazmat``; everything else in mailvault
imports from here.
"""

from vault.crypto.digests import DIGEST_BYTES, Digester, KeyedDigest, hmac_sha256
from vault.crypto.keyring import (
    KEYRING_FILE,
    Kek,
    Key,
    Keyring,
    KeyStatus,
    Purpose,
    create_keyring,
    generate_kek_file,
    open_keyring,
    write_atomically,
)
from vault.crypto.local_parts import LocalPartCipher, sealed_key_id
from vault.crypto.suite import KeySuite
from vault.crypto.tokens import TokenSealer, open_token, seal_token
from vault.crypto.watch import KeyringWatcher

__all__ = [
    "DIGEST_BYTES",
    "KEYRING_FILE",
    "Digester",
    "Kek",
    "Key",
    "KeyStatus",
    "KeySuite",
    "KeyedDigest",
    "Keyring",
    "KeyringWatcher",
    "LocalPartCipher",
    "Purpose",
    "TokenSealer",
    "create_keyring",
    "generate_kek_file",
    "hmac_sha256",
    "open_keyring",
    "open_token",
    "seal_token",
    "sealed_key_id",
    "write_atomically",
]
