"""Which suppression list (scope) a policy request is checked against, from rules that match
the SASL login or the envelope sender; no rule matching means the global list only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vault.addresses import Address, normalize_domain, parse_address
from vault.errors import ConfigError, InvalidAddress
from vault.policy.wire import PolicyRequest

__all__ = ["ScopeField", "ScopeRule", "resolve_scope"]


class ScopeField(StrEnum):
    """What a rule compares with its value."""

    SASL_USERNAME = "sasl_username"  # the login, exactly as Postfix reports it
    SENDER = "sender"  # the whole envelope sender, canonical form
    SENDER_DOMAIN = "sender_domain"  # the envelope sender's domain, IDNA A-label, lower case


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """``field`` equal to ``value`` → check against list ``scope``.

    Rules are tried in order and the first match wins. Written as text (settings, CLI):
    ``sasl_username:bulk-mailer=newsletter``, ``sender_domain:news.example.com=newsletter``,
    ``sender:offers@example.com=offers``.
    """

    field: ScopeField
    value: str
    scope: str

    def __post_init__(self) -> None:
        if not self.scope:
            raise ConfigError("a scope rule needs a list name after '='")
        # Normalize once here so that matching a request is a plain comparison.
        try:
            if self.field is ScopeField.SENDER_DOMAIN:
                object.__setattr__(self, "value", normalize_domain(self.value))
            elif self.field is ScopeField.SENDER:
                object.__setattr__(self, "value", parse_address(self.value).canonical)
        except InvalidAddress as exc:
            raise ConfigError(f"scope rule for list {self.scope!r}: {exc}") from None
        if not self.value:
            raise ConfigError(f"scope rule for list {self.scope!r} has an empty value")

    @classmethod
    def parse(cls, text: str) -> ScopeRule:
        """Read ``FIELD:VALUE=LIST``; the error message names the problem, not the value."""
        head, sep, scope = text.strip().rpartition("=")
        field_name, colon, value = head.partition(":")
        if not sep or not colon:
            raise ConfigError("a scope rule must look like FIELD:VALUE=LIST")
        try:
            field = ScopeField(field_name.strip())
        except ValueError:
            fields = ", ".join(f.value for f in ScopeField)
            raise ConfigError(f"a scope rule's FIELD must be one of: {fields}") from None
        return cls(field=field, value=value.strip(), scope=scope.strip())


def resolve_scope(request: PolicyRequest, rules: Sequence[ScopeRule]) -> str | None:
    """The list named by the first matching rule, or None (global list only)."""
    sender: Address | None = None
    sender_parsed = False
    for rule in rules:
        if rule.field is ScopeField.SASL_USERNAME:
            if request.sasl_username == rule.value:
                return rule.scope
            continue
        if not sender_parsed:
            # Parsed once per request, and only when a sender rule exists.
            sender, sender_parsed = _parse_or_none(request.sender), True
        if sender is None:
            continue  # the null sender <> and junk match no sender rule
        if rule.field is ScopeField.SENDER_DOMAIN and sender.domain == rule.value:
            return rule.scope
        if rule.field is ScopeField.SENDER and sender.canonical == rule.value:
            return rule.scope
    return None


def _parse_or_none(raw: str) -> Address | None:
    try:
        return parse_address(raw)
    except InvalidAddress:
        return None
