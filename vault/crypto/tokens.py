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
from collections.abc import Sequence

from vault.crypto import primitives
from vault.crypto.keyring import Keyring, Purpose
from vault.errors import InvalidCiphertext, MailvaultError

FORMAT_AES256_GCM_SIV = 0x01
_HEADER = struct.Struct(">BI")
_AAD_PREFIX = b"mailvault/token/v1\x00"
_OVERHEAD = _HEADER.size + primitives.NONCE_BYTES + 16


class TokenSealer:
    """Seals many payloads for one context under the primary ``token`` key as it was when the
    sealer was made: the key lookup and the cipher's key schedule, most of a token's cost, are
    paid once (a release seals one token per recipient). Each token still gets its own nonce.
    """

    __slots__ = ("_aad", "_cipher", "_header")

    def __init__(self, keyring: Keyring, *, context: bytes) -> None:
        key = keyring.primary(Purpose.TOKEN)
        self._header = _HEADER.pack(FORMAT_AES256_GCM_SIV, key.id)
        self._cipher = primitives.SivCipher(key.secret())
        self._aad = _AAD_PREFIX + self._header + context

    def seal(self, payload: bytes) -> str:
        sealed = self._cipher.seal(payload, self._aad)
        return base64.urlsafe_b64encode(self._header + sealed).rstrip(b"=").decode("ascii")

    def seal_many(self, payloads: Sequence[bytes]) -> list[str]:
        """``seal`` of each payload, in order: one nonce draw for all of them, and for payloads
        of one length (a release's), one base64 encoding for all of them."""
        aad = self._aad
        sealed = self._cipher.seal_many([(payload, aad) for payload in payloads])
        header = self._header
        if len({len(p) for p in payloads}) != 1:
            encode = base64.urlsafe_b64encode
            return [encode(header + s).rstrip(b"=").decode("ascii") for s in sealed]
        # Base64 turns each 3-byte group into 4 characters independently, so tokens padded
        # with zero bytes to a multiple of 3 and joined encode to each token's text, then the
        # characters of its padding: exactly what "=" padding stands for, and what is cut off.
        size = len(header) + len(sealed[0])
        padding = b"\0" * (-size % 3)
        text = base64.urlsafe_b64encode(header + (padding + header).join(sealed) + padding)
        length = -(-size * 4 // 3)  # characters without padding
        stride = (size + len(padding)) // 3 * 4
        joined = text.decode("ascii")
        return [joined[at : at + length] for at in range(0, len(joined), stride)]


def seal_token(keyring: Keyring, payload: bytes, *, context: bytes) -> str:
    """``payload`` sealed under the primary ``token`` key, as URL-safe text."""
    return TokenSealer(keyring, context=context).seal(payload)


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
