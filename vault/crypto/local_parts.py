"""Sealing local parts: self-describing AEAD ciphertexts bound to their row.

Layout of a sealed local part (all stored in one binary column)::

    format (1 byte) | key id (4 bytes, big-endian) | nonce (12) | ciphertext + tag (16)

The associated data binds the ciphertext to its header, its subscriber id and its domain, so a
ciphertext copied to another row, or relabelled with another key id, fails to open.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable

from vault.crypto import primitives
from vault.crypto.keyring import Keyring, Purpose
from vault.errors import InvalidCiphertext

FORMAT_AES256_GCM_SIV = 0x01
_HEADER = struct.Struct(">BI")
_AAD_PREFIX = b"mailvault/local-part/v1\x00"


def sealed_key_id(sealed: bytes) -> int:
    """The key id a sealed local part names (without opening it)."""
    if len(sealed) < _HEADER.size:
        raise InvalidCiphertext("ciphertext is truncated")
    fmt, key_id = _HEADER.unpack_from(sealed)
    if fmt != FORMAT_AES256_GCM_SIV:
        raise InvalidCiphertext(f"unknown ciphertext format {fmt:#04x}")
    return int(key_id)


class LocalPartCipher:
    """Seals with the primary ``address`` key (or a list's own key); opens with any live one."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers: dict[int, primitives.SivCipher] = {}
        # A cipher object lives as long as the keyring it was made from (a rotation makes a
        # new KeySuite), so the primary id can be remembered.
        self._primary_id: int | None = None

    def _cipher(self, key_id: int) -> primitives.SivCipher:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            key = self._keyring.get(key_id)
            if key.purpose != Purpose.ADDRESS:
                raise InvalidCiphertext(f"key {key.label} is not an address key")
            cipher = self._ciphers[key_id] = primitives.SivCipher(key.secret())
        return cipher

    def primary_key_id(self, list_id: str | None = None) -> int:
        if list_id is None:
            if self._primary_id is None:
                self._primary_id = self._keyring.primary(Purpose.ADDRESS).id
            return self._primary_id
        return self._keyring.primary(Purpose.ADDRESS, list_id=list_id).id

    def seal(
        self, local_part: str, *, subscriber_id: uuid.UUID, domain: str, key_id: int | None = None
    ) -> bytes:
        key_id = key_id if key_id is not None else self.primary_key_id()
        header = _HEADER.pack(FORMAT_AES256_GCM_SIV, key_id)
        aad = _associated_data(header, subscriber_id, domain)
        return header + self._cipher(key_id).seal(local_part.encode("utf-8"), aad)

    def seal_many(
        self, items: list[tuple[str, bytes, str]], *, key_id: int | None = None
    ) -> list[bytes]:
        """``seal`` for a batch of (local part, subscriber id as its 16 bytes, domain), all under
        one key: the bulk paths make no ``uuid.UUID`` per row, and the key is looked up once."""
        key_id = key_id if key_id is not None else self.primary_key_id()
        header = _HEADER.pack(FORMAT_AES256_GCM_SIV, key_id)
        prefix = _AAD_PREFIX + header
        sealed = self._cipher(key_id).seal_many(
            [
                (local.encode("utf-8"), prefix + subscriber_id + domain.encode("ascii"))
                for local, subscriber_id, domain in items
            ]
        )
        return [header + body for body in sealed]

    def open(self, sealed: bytes, *, subscriber_id: uuid.UUID, domain: str) -> str:
        return self.open_raw(sealed, subscriber_id=subscriber_id.bytes, domain=domain)

    def open_raw(self, sealed: bytes, *, subscriber_id: bytes, domain: str) -> str:
        """``open`` with the subscriber id as its 16 bytes, for loops over many rows that need
        no ``uuid.UUID`` of each."""
        key_id = sealed_key_id(sealed)
        aad = _AAD_PREFIX + sealed[: _HEADER.size] + subscriber_id + domain.encode("ascii")
        plaintext = self._cipher(key_id).open(sealed[_HEADER.size :], aad)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:  # cannot happen for what we sealed; refuse rather than guess
            raise InvalidCiphertext("ciphertext does not hold UTF-8 text") from None

    def open_rows(
        self, rows: Iterable[tuple[bytes, str, bytes]], *, key_ids: set[int]
    ) -> list[str | None]:
        """``open`` for many rows at once (a release), each row as (subscriber id as its 16 bytes,
        domain, sealed local part): the local parts in order, ``None`` for a row that does not
        open (any cause of ``InvalidCiphertext``, or a domain that is not ASCII and so cannot
        be what was sealed). Adds the key id of every row that opened to ``key_ids``.

        The header of each ciphertext names its key; the cipher and the associated data's
        prefix are looked up once per distinct header, not per row.
        """
        prefixes: dict[bytes, tuple[primitives.SivCipher, bytes] | None] = {}
        used: set[bytes] = set()
        opened: list[str | None] = []
        for subscriber_id, domain, sealed in rows:
            header = sealed[: _HEADER.size]
            try:
                entry = prefixes[header]
            except KeyError:
                entry = prefixes[header] = self._entry(header)
            if entry is None:
                opened.append(None)
                continue
            cipher, prefix = entry
            try:
                aad = prefix + subscriber_id + domain.encode("ascii")
                opened.append(cipher.open(sealed[_HEADER.size :], aad).decode("utf-8"))
            except (InvalidCiphertext, UnicodeError):
                opened.append(None)
                continue
            used.add(header)
        key_ids.update(map(sealed_key_id, used))
        return opened

    def _entry(self, header: bytes) -> tuple[primitives.SivCipher, bytes] | None:
        try:
            cipher = self._cipher(sealed_key_id(header))
        except InvalidCiphertext:
            return None
        return cipher, _AAD_PREFIX + header


def _associated_data(header: bytes, subscriber_id: uuid.UUID, domain: str) -> bytes:
    return _AAD_PREFIX + header + subscriber_id.bytes + domain.encode("ascii")
