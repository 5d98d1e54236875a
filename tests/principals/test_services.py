"""Tokens: recognisable, high-entropy, stored as a keyed hash; the cache expires in time."""

import uuid

from vault.crypto import Keyring
from vault.principals.permissions import Role
from vault.principals.services import TOKEN_PREFIX, Authenticator, Identity, new_token


def test_tokens_are_recognisable_and_distinct() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith(TOKEN_PREFIX) and len(t) == len(TOKEN_PREFIX) + 43 for t in tokens)


def test_cache_answers_for_at_most_its_ttl(keyring: Keyring) -> None:
    now = [0.0]
    calls: list[int] = []
    identity = Identity(uuid.uuid4(), "hook", frozenset({Role.SENDER}))
    valid = [True]

    def lookup(_digests: object) -> Identity | None:
        calls.append(1)
        return identity if valid[0] else None

    auth = Authenticator(keyring=keyring, lookup=lookup, ttl=0.5, clock=lambda: now[0])
    token = new_token()
    assert auth.authenticate(token) == identity and len(calls) == 1
    now[0] = 0.4
    assert auth.authenticate(token) == identity and len(calls) == 1
    valid[0] = False  # revoked elsewhere
    now[0] = 0.51
    assert auth.authenticate(token) is None and len(calls) == 2
    assert auth.authenticate("not-a-token") is None and len(calls) == 2
