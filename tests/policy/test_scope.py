"""Which list a policy request is checked against."""

from __future__ import annotations

import pytest

from vault.errors import ConfigError
from vault.policy.scope import ScopeField, ScopeRule, resolve_scope
from vault.policy.wire import PolicyRequest

RULES = (
    ScopeRule.parse("sasl_username:bulk-mailer=promotions"),
    ScopeRule.parse("sender:Offers@Shop.Example=offers"),
    ScopeRule.parse("sender_domain:NEWS.example.com.=newsletter"),
    ScopeRule.parse("sender_domain:bücher.example=books"),
)


def request(**attributes: str) -> PolicyRequest:
    return PolicyRequest(attributes)


@pytest.mark.parametrize(
    ("attributes", "scope"),
    [
        ({"sasl_username": "bulk-mailer", "sender": "x@news.example.com"}, "promotions"),
        ({"sasl_username": "BULK-MAILER"}, None),  # logins match exactly
        ({"sender": "offers@shop.example"}, "offers"),
        ({"sender": "OFFERS@SHOP.EXAMPLE"}, "offers"),
        ({"sender": "other@shop.example"}, None),
        ({"sender": "anyone@news.example.com"}, "newsletter"),
        ({"sender": "anyone@sub.news.example.com"}, None),  # exact domains, no subdomains
        ({"sender": "a@xn--bcher-kva.example"}, "books"),
        ({"sender": "a@BÜCHER.example"}, "books"),
        ({"sender": ""}, None),  # the null sender <>
        ({"sender": "not an address"}, None),
        ({}, None),
    ],
)
def test_first_matching_rule_names_the_list(attributes: dict[str, str], scope: str | None) -> None:
    assert resolve_scope(request(**attributes), RULES) == scope


def test_no_rules_means_global() -> None:
    assert resolve_scope(request(sasl_username="bulk-mailer"), ()) is None


def test_rules_are_normalized_when_made() -> None:
    assert RULES[1].value == "offers@shop.example"
    assert RULES[2].value == "news.example.com"
    assert RULES[3].value == "xn--bcher-kva.example"
    assert RULES[0].field is ScopeField.SASL_USERNAME


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sender_domain=news", "FIELD:VALUE=LIST"),
        ("news.example.com=news", "FIELD:VALUE=LIST"),
        ("recipient:x@example.com=news", "must be one of"),
        ("sender_domain:news.example.com=", "needs a list name"),
        ("sasl_username:=news", "empty value"),
        ("sender:no-at-sign=news", "has no @"),
        ("sender_domain:exa mple.com=news", "domain"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScopeRule.parse(text)


def test_refusal_does_not_quote_a_sender_address() -> None:
    with pytest.raises(ConfigError) as caught:
        ScopeRule.parse("sender:canary-zq7x@@example.org=news")
    assert "canary" not in str(caught.value)
