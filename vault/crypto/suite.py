"""Everything derived from one opened keyring that address-handling services need."""

from __future__ import annotations

from dataclasses import dataclass

from vault.crypto.digests import Digester
from vault.crypto.keyring import Keyring, Purpose
from vault.crypto.local_parts import LocalPartCipher


@dataclass(frozen=True)
class KeySuite:
    keyring: Keyring
    cipher: LocalPartCipher
    index: Digester
    suppression: Digester

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> KeySuite:
        return cls(
            keyring=keyring,
            cipher=LocalPartCipher(keyring),
            index=Digester(keyring, Purpose.INDEX),
            suppression=Digester(keyring, Purpose.SUPPRESSION),
        )
