"""Sealed tokens: short opaque strings that carry ids, readable and checkable only with a
``token`` key (AES-256-GCM-SIV), for links such as one-click unsubscribe URLs.

Layout before base64url (no padding)::

    format (1 byte) | key id (4 bytes, big-endian) | nonce (12) | ciphertext + tag (16)

The associated data binds the ciphertext to its header and to a caller-chosen context (what the
token is for), so a token made for one use does not open for another.
"""

from __future__ import annotations

import base64
import binascii
import struct

from vault.crypto import primitives
from vault.crypto.keyring import Keyring, Purpose
from vault.errors import InvalidCiphertext, MailvaultError

FORMAT_AES256_GCM_SIV = 0x01
_HEADER = struct.Struct(">BI")
_AAD_PREFIX = b"mailvault/token/v1\x00"
_OVERHEAD = _HEADER.size + primitives.NONCE_BYTES + 16


def seal_token(keyring: Keyring, payload: bytes, *, context: bytes) -> str:
    """``payload`` sealed under the primary ``token`` key, as URL-safe text."""
    key = keyring.primary(Purpose.TOKEN)
    header = _HEADER.pack(FORMAT_AES256_GCM_SIV, key.id)
    sealed = primitives.SivCipher(key.secret()).seal(payload, _AAD_PREFIX + header + context)
    return base64.urlsafe_b64encode(header + sealed).rstrip(b"=").decode("ascii")


def open_token(keyring: Keyring, token: str, *, context: bytes) -> bytes:
    """The payload of a token made by ``seal_token`` with the same context, under any live
    ``token`` key. Anything else (forged, altered, truncated, another keyring's, a retired
    key's, another context's) raises ``InvalidCiphertext``."""
    raw = _decode(token)
    if len(raw) < _OVERHEAD:
        raise InvalidCiphertext("token is truncated")
    fmt, key_id = _HEADER.unpack_from(raw)
    if fmt != FORMAT_AES256_GCM_SIV:
        raise InvalidCiphertext("token has an unknown format")
    try:
        key = keyring.get(key_id)
    except MailvaultError:
        raise InvalidCiphertext("token names no live key of this keyring") from None
    if key.purpose != Purpose.TOKEN:
        raise InvalidCiphertext("token names a key that is not a token key")
    header = raw[: _HEADER.size]
    return primitives.SivCipher(key.secret()).open(
        raw[_HEADER.size :], _AAD_PREFIX + header + context
    )


def _decode(token: str) -> bytes:
    if not isinstance(token, str) or not token.isascii() or len(token) > 1024:
        raise InvalidCiphertext("token is not base64url text")
    # Only the canonical encoding is accepted: no padding, no other alphabet, no stray bits, so
    # one token has exactly one spelling.
    if "=" in token or len(token) % 4 == 1:
        raise InvalidCiphertext("token is not base64url text")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCiphertext("token is not base64url text") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise InvalidCiphertext("token is not base64url text")
    return raw
