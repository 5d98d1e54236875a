"""Diagnostics without addresses or local parts."""

from __future__ import annotations

import pytest

from vault.bounces import redact_diagnostic


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("550 5.1.1 <kijitora@example.jp>... User unknown", "kijitora"),
        ("Unknown user kijitora@example.jp", "kijitora"),
        ('550 5.1.1 <"neko nyaan"@example.org>: no such user', "neko nyaan"),
        ("550 <kijitora>: Recipient address rejected", "kijitora"),
        ("mailbox 'kijitora' does not exist", "kijitora"),
        ("procmail: Couldn't create /var/spool/mail/kijitora", "kijitora"),
        ("kijitora@mailhub0 failed", "kijitora"),
        ("550 unknown user: kijitora", "kijitora"),
        ("550 5.1.1 User: 'kijitora' not found", "kijitora"),
    ],
)
def test_addresses_and_local_parts_are_removed(text: str, secret: str) -> None:
    redacted = redact_diagnostic(text)
    assert secret not in redacted
    assert "<redacted>" in redacted


def test_text_without_addresses_is_unchanged() -> None:
    text = "550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org"
    assert redact_diagnostic(text) == text


def test_redaction_is_idempotent() -> None:
    once = redact_diagnostic("550 <a@b.example> and <c>")
    assert redact_diagnostic(once) == once
