"""The consumer mailbox provider table."""

from __future__ import annotations

import pytest

from vault.bounces import CONSUMER_PROVIDERS, is_consumer_provider


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "GoogleMail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "live.jp",
        "yahoo.co.jp",
        "yahoo.com.br",
        "outlook.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "yandex.ru",
        "icloud.com",
        "proton.me",
        "t-online.de",
        "qq.com",
        "naver.com",
        "gmail.com.",
    ],
)
def test_listed(domain: str) -> None:
    assert is_consumer_provider(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "example.com",
        "gmail.example.com",
        "mail.gmail.com",
        "hotmail.example.co.uk",
        "yahoo",
        "",
        "not a domain",
        "corp-yahoo.com",
    ],
)
def test_not_listed(domain: str) -> None:
    assert not is_consumer_provider(domain)


def test_table_is_sorted_without_duplicates() -> None:
    assert list(CONSUMER_PROVIDERS) == sorted(set(CONSUMER_PROVIDERS))
