"""The access log's request targets: no query string, no segment with an address, and no more
of an unsubscribe token than its header."""

from __future__ import annotations

import pytest

from vault.api.logging import safe_target

TOKEN = "AQBc1a2b" + "x" * 79


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/v1/lists?address=a@example.com", "/v1/lists"),
        ("/v1/lists/a@example.com", "/v1/lists/<redacted>"),
        ("/v1/lists/a%40example.com/subscribers", "/v1/lists/<redacted>/subscribers"),
        (f"/u/{TOKEN}", "/u/AQBc1a2..."),
        (f"/u/{TOKEN}?utm_source=x", "/u/AQBc1a2..."),
        ("/u/someone@example.com", "/u/<redacted>"),
        ("/u/someone%40example.com/more", "/u/<redacted>"),
        ("/u/", "/u/..."),
    ],
)
def test_targets_are_made_safe(target: str, logged: str) -> None:
    assert safe_target(target) == logged
    assert TOKEN not in safe_target(target)
