"""One-click unsubscribe tokens (RFC 8058): the subscriber and list ids, sealed with the
``token`` key, as the last path segment of a ``List-Unsubscribe`` URL.

A token reveals nothing (no address, no id in clear) and cannot be forged or altered; every
token that does not verify raises ``InvalidToken``, which the HTTP API answers with 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from vault.crypto import Keyring, KeySuite, TokenSealer, open_token, seal_token
from vault.errors import ConfigError, InvalidCiphertext, InvalidToken

# Binds the sealed ids to this use: a token sealed for another purpose does not open here.
_CONTEXT = b"unsubscribe/one-click"
ONE_CLICK = "List-Unsubscribe=One-Click"


def _ring(keys: KeySuite | Keyring) -> Keyring:
    return keys.keyring if isinstance(keys, KeySuite) else keys


def create_token(keys: KeySuite | Keyring, *, subscriber_id: uuid.UUID, list_id: uuid.UUID) -> str:
    """A URL-safe token (87 characters) for one subscriber on one list.

    Each call draws a new nonce, so two tokens for the same subscriber differ; all of them
    verify for as long as the ``token`` key that sealed them is live (not retired).
    """
    return seal_token(_ring(keys), subscriber_id.bytes + list_id.bytes, context=_CONTEXT)


def list_token_maker(
    keys: KeySuite | Keyring, *, list_id: uuid.UUID
) -> Callable[[Sequence[bytes]], list[str]]:
    """Tokens for many subscribers of one list at once (a release's batch):
    ``make(subscriber_ids)``, each id as its 16 bytes, gives one token per id, in order.

    Same format as ``create_token``'s; the key is set up once and the batch's nonces are drawn
    in one call.
    """
    sealer = TokenSealer(_ring(keys), context=_CONTEXT)
    list_bytes = list_id.bytes

    def make(subscriber_ids: Sequence[bytes]) -> list[str]:
        return sealer.seal_many([subscriber_id + list_bytes for subscriber_id in subscriber_ids])

    return make


def verify_token(keys: KeySuite | Keyring, token: str) -> tuple[uuid.UUID, uuid.UUID]:
    """``(subscriber_id, list_id)`` from a token made by ``create_token``, or ``InvalidToken``."""
    try:
        payload = open_token(_ring(keys), token, context=_CONTEXT)
    except InvalidCiphertext:
        raise InvalidToken("no such unsubscribe link") from None
    if len(payload) != 32:
        raise InvalidToken("no such unsubscribe link")
    return uuid.UUID(bytes=payload[:16]), uuid.UUID(bytes=payload[16:])


def unsubscribe_url(base_url: str, token: str) -> str:
    """``<base_url>/u/<token>``. RFC 8058 wants HTTPS; plain HTTP only for a local test server."""
    base = base_url.strip().rstrip("/")
    local = base.startswith(("http://localhost", "http://127.0.0.1", "http://[::1]"))
    if not (base.startswith("https://") or local) or any(c in base for c in " <>\"'\r\n"):
        raise ConfigError("the public base URL for unsubscribe links must be an https:// URL")
    return f"{base}/u/{token}"


def list_unsubscribe_headers(base_url: str, token: str) -> dict[str, str]:
    """The two header fields a release adds per recipient (RFC 2369 and RFC 8058)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(base_url, token)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }
