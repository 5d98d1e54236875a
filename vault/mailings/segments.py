"""Domain rules: which of a list's subscribers a segment or mailing targets, by domain alone.

A rule is a domain (``example.com``, exactly that domain) or a wildcard (``*.example.com``, any
sub-domain of it, not the domain itself). No include rule means every domain; an exclude rule
always wins. Rules are normalized like stored domains (IDNA A-label, lower case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, not_, or_, true

from vault.addresses import normalize_domain
from vault.errors import InputError, InvalidAddress
from vault.subscribers.models import Subscriber

MAX_RULES = 500
WILDCARD = "*."


def parse_rule(text: str) -> str:
    """A normalized rule, or ``InputError`` naming the problem."""
    raw = text.strip()
    wildcard = raw.startswith(WILDCARD)
    body = raw[len(WILDCARD) :] if wildcard else raw
    if "*" in body or "@" in body:
        raise InputError("a domain rule is a domain or *.domain (no other wildcards, no '@')")
    try:
        domain = normalize_domain(body)
    except InvalidAddress as exc:
        raise InputError(f"bad domain rule: {exc}") from None
    return WILDCARD + domain if wildcard else domain


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class DomainRules:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> DomainRules:
        if len(include) + len(exclude) > MAX_RULES:
            raise InputError(f"at most {MAX_RULES} domain rules")
        return cls(
            tuple(sorted({parse_rule(r) for r in include})),
            tuple(sorted({parse_rule(r) for r in exclude})),
        )

    def matches(self, domain: str) -> bool:
        if any(_match(rule, domain) for rule in self.exclude):
            return False
        return not self.include or any(_match(rule, domain) for rule in self.include)

    def clause(self) -> ColumnElement[bool]:
        """The same decision as ``matches``, as SQL on ``subscribers.domain``."""
        included = _any_of(self.include) if self.include else true()
        excluded = _any_of(self.exclude) if self.exclude else false()
        return and_(included, not_(excluded))


def _match(rule: str, domain: str) -> bool:
    if rule.startswith(WILDCARD):
        return domain.endswith(rule[1:])  # ".example.com": a proper sub-domain only
    return domain == rule


def _any_of(rules: Sequence[str]) -> ColumnElement[bool]:
    exact = [r for r in rules if not r.startswith(WILDCARD)]
    wild = [r[1:] for r in rules if r.startswith(WILDCARD)]
    parts: list[ColumnElement[bool]] = []
    if exact:
        parts.append(Subscriber.domain.in_(exact))
    parts.extend(Subscriber.domain.like("%" + _escape_like(s), escape="\\") for s in wild)
    return or_(*parts)
