"""Domain rules: exact domains, ``*.`` sub-domain wildcards, exclusion wins, SQL agrees."""

import pytest
from sqlalchemy import select

from vault.errors import InputError
from vault.mailings.segments import DomainRules, parse_rule
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber


@pytest.mark.parametrize(
    ("rule", "normalized"),
    [("Example.COM", "example.com"), ("*.Bücher.example", "*.xn--bcher-kva.example")],
)
def test_rules_are_normalized(rule: str, normalized: str) -> None:
    assert parse_rule(rule) == normalized


@pytest.mark.parametrize("rule", ["*", "a*.example.com", "x@example.com", "*.", "example"])
def test_bad_rules_are_refused(rule: str) -> None:
    with pytest.raises(InputError):
        parse_rule(rule)


DOMAINS = ["example.com", "mail.example.com", "a.b.example.com", "notexample.com", "example.org"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ([], [], DOMAINS),
        (["example.com"], [], ["example.com"]),
        (["*.example.com"], [], ["mail.example.com", "a.b.example.com"]),
        (["*.example.com", "example.com"], ["*.b.example.com"], DOMAINS[:2]),
        ([], ["example.org", "*.example.com"], ["example.com", "notexample.com"]),
    ],
)
def test_matches_and_sql_agree(
    store: Vault, include: list[str], exclude: list[str], expected: list[str]
) -> None:
    rules = DomainRules.parse(include, exclude)
    assert [d for d in DOMAINS if rules.matches(d)] == expected
    store.create_list("l")
    for domain in DOMAINS:
        store.subscribe(
            f"x@{domain}", list_name="l", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
        )
    with store.read() as session:
        found = session.scalars(select(Subscriber.domain).where(rules.clause())).all()
    assert sorted(found) == sorted(expected)
