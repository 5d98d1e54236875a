"""The decision, table-driven: request and store answer in, reply out."""

from __future__ import annotations

import logging

import pytest

from vault.errors import ConfigError
from vault.policy.lookup import NOT_SUPPRESSED, LookupResult, StoreUnavailable
from vault.policy.responder import (
    DEFAULT_UNAVAILABLE_ACTION,
    Decision,
    MapKind,
    Outcome,
    Query,
    Responder,
    policy_decision,
    policy_query,
    reason_class,
    socketmap_decision,
    socketmap_query,
    validate_unavailable_action,
)
from vault.policy.scope import ScopeRule
from vault.policy.socketmap import SocketmapRequest
from vault.policy.wire import PolicyRequest

from .doubles import MemoryLookup

DOWN = StoreUnavailable("down")


def rcpt(recipient: str, **extra: str) -> PolicyRequest:
    return PolicyRequest(
        {"request": "smtpd_access_policy", "protocol_state": "RCPT", "recipient": recipient} | extra
    )


def suppressed(reason: str | None) -> LookupResult:
    return LookupResult(suppressed=True, reason=reason)


# (recipient, store answer, expected reply, outcome, reason class)
POLICY_TABLE = [
    ("a@example.org", NOT_SUPPRESSED, "DUNNO", Outcome.ALLOWED, None),
    ("a@example.org", suppressed("unsubscribe"), "550 5.7.1 Recipient suppressed (unsubscribe)",
     Outcome.SUPPRESSED, "unsubscribe"),
    ("a@example.org", suppressed("complaint"), "550 5.7.1 Recipient suppressed (complaint)",
     Outcome.SUPPRESSED, "complaint"),
    ("a@example.org", suppressed("hard_bounce"), "550 5.7.1 Recipient suppressed (hard bounce)",
     Outcome.SUPPRESSED, "hard_bounce"),
    ("a@example.org", suppressed("soft_bounce"), "550 5.7.1 Recipient suppressed (soft bounce)",
     Outcome.SUPPRESSED, "soft_bounce"),
    ("a@example.org", suppressed("erasure"), "550 5.7.1 Recipient suppressed (erasure)",
     Outcome.SUPPRESSED, "erasure"),
    ("a@example.org", suppressed("manual"), "550 5.7.1 Recipient suppressed (manual)",
     Outcome.SUPPRESSED, "manual"),
    # A reason the store made up is not echoed: it could be anything, an address included.
    ("a@example.org", suppressed("canary-zq7x@example.org"), "550 5.7.1 Recipient suppressed",
     Outcome.SUPPRESSED, "other"),
    ("a@example.org", suppressed(None), "550 5.7.1 Recipient suppressed", Outcome.SUPPRESSED,
     "other"),
    ("a@example.org", DOWN, DEFAULT_UNAVAILABLE_ACTION, Outcome.UNAVAILABLE, None),
]  # fmt: skip


@pytest.mark.parametrize(("recipient", "answer", "reply", "outcome", "reason"), POLICY_TABLE)
def test_policy_decisions(
    recipient: str,
    answer: LookupResult | StoreUnavailable,
    reply: str,
    outcome: Outcome,
    reason: str | None,
) -> None:
    query = policy_query(rcpt(recipient))
    assert query is not None
    decision = policy_decision(query, answer)
    assert decision == Decision(
        reply=reply, outcome=outcome, domain="example.org", reason=reason, scope=None
    )


@pytest.mark.parametrize(
    "request_",
    [
        PolicyRequest({"protocol_state": "MAIL", "recipient": "a@example.org"}),
        PolicyRequest({"protocol_state": "DATA", "recipient": "a@example.org"}),
        PolicyRequest({"protocol_state": "END-OF-MESSAGE", "recipient": ""}),
        PolicyRequest({"protocol_state": "VRFY", "recipient": "a@example.org"}),
        PolicyRequest(
            {"request": "other_policy", "protocol_state": "RCPT", "recipient": "a@x.org"}
        ),
        PolicyRequest({}),
        rcpt("<>"),
        rcpt(""),
        rcpt("no-at-sign"),
        rcpt("user@[192.0.2.1]"),
        rcpt("@example.org"),
    ],
)
def test_nothing_to_look_up_is_dunno_even_when_the_store_is_down(request_: PolicyRequest) -> None:
    lookup = MemoryLookup()
    lookup.unavailable = True
    decision = Responder(lookup).policy(request_)
    assert decision == Decision(reply="DUNNO", outcome=Outcome.SKIPPED)
    assert lookup.calls == 0


def test_policy_query_uses_canonical_form_and_lower_case_state() -> None:
    query = policy_query(rcpt("Kijitora@EXAMPLE.org", protocol_state="rcpt"))
    assert query == Query(canonical="kijitora@example.org", domain="example.org", scope=None)
    assert "kijitora" not in repr(query)


def test_policy_query_carries_the_scope_from_the_rules() -> None:
    rules = [ScopeRule.parse("sender_domain:news.example.com=newsletter")]
    query = policy_query(rcpt("a@example.org", sender="x@news.example.com"), scope_rules=rules)
    assert query is not None
    assert query.scope == "newsletter"
    assert policy_decision(query, NOT_SUPPRESSED).scope == "newsletter"


def test_configured_unavailable_action_is_used() -> None:
    query = policy_query(rcpt("a@example.org"))
    decision = policy_decision(query, DOWN, unavailable_action="451 4.3.0 Try again later")
    assert decision.reply == "451 4.3.0 Try again later"


def test_a_missing_answer_for_a_real_query_is_never_dunno() -> None:
    query = policy_query(rcpt("a@example.org"))
    assert policy_decision(query, None).outcome is Outcome.UNAVAILABLE


@pytest.mark.parametrize(
    "action",
    ["DEFER_IF_PERMIT Suppression list unavailable", "defer try later", "REJECT", "451 4.3.0 x",
     "550 5.7.1 x"],
)  # fmt: skip
def test_unavailable_actions_that_hold_mail_are_accepted(action: str) -> None:
    assert validate_unavailable_action(action) == action


@pytest.mark.parametrize(
    "action",
    ["DUNNO", "OK", "dunno", "PERMIT", "250 ok", "123", "PREPEND X-Foo: bar", "WARN x",
     "DEFER_IF_REJECT x", "", "DEFER\nx"],
)  # fmt: skip
def test_unavailable_actions_that_let_mail_through_are_refused(action: str) -> None:
    with pytest.raises(ConfigError):
        Responder(MemoryLookup(), unavailable_action=action)


def sm(name: str, key: str) -> SocketmapRequest:
    return SocketmapRequest(name=name, key=key)


# (map name, key, store answer, expected reply, outcome)
SOCKETMAP_TABLE = [
    ("suppressed", "a@example.org", NOT_SUPPRESSED, "NOTFOUND ", Outcome.ALLOWED),
    ("suppressed", "a@example.org", suppressed("unsubscribe"),
     "OK 550 5.7.1 Recipient suppressed (unsubscribe)", Outcome.SUPPRESSED),
    ("suppressed", "a@example.org", DOWN, "TEMP Suppression list unavailable",
     Outcome.UNAVAILABLE),
    ("transport", "a@example.org", NOT_SUPPRESSED, "NOTFOUND ", Outcome.ALLOWED),
    ("transport", "a@example.org", suppressed("complaint"),
     "OK error:5.7.1 Recipient suppressed (complaint)", Outcome.SUPPRESSED),
    ("transport", "a@example.org", DOWN, "TEMP Suppression list unavailable",
     Outcome.UNAVAILABLE),
    ("suppressed", "example.org", DOWN, "NOTFOUND ", Outcome.SKIPPED),
    ("transport", "<>", DOWN, "NOTFOUND ", Outcome.SKIPPED),
    ("transport", "", DOWN, "NOTFOUND ", Outcome.SKIPPED),
    ("transport", "*", DOWN, "NOTFOUND ", Outcome.SKIPPED),
    ("virtual", "a@example.org", NOT_SUPPRESSED, "PERM unknown map name", Outcome.REFUSED),
    ("suppressed.", "a@example.org", NOT_SUPPRESSED, "PERM unknown map name", Outcome.REFUSED),
]  # fmt: skip


@pytest.mark.parametrize(("name", "key", "answer", "reply", "outcome"), SOCKETMAP_TABLE)
def test_socketmap_decisions(
    name: str,
    key: str,
    answer: LookupResult | StoreUnavailable,
    reply: str,
    outcome: Outcome,
) -> None:
    lookup = MemoryLookup()
    if isinstance(answer, StoreUnavailable):
        lookup.unavailable = True
    elif answer.suppressed:
        lookup.suppress(key, answer.reason or "manual")
    decision = Responder(lookup).socketmap(sm(name, key))
    assert (decision.reply, decision.outcome) == (reply, outcome)


def test_socketmap_pure_functions_agree_with_the_responder() -> None:
    asked = socketmap_query(sm("transport.newsletter", "A@Example.org"))
    assert asked == (
        MapKind.TRANSPORT,
        Query(canonical="a@example.org", domain="example.org", scope="newsletter"),
    )
    kind, query = asked
    decision = socketmap_decision(kind, query, suppressed("manual"))
    assert decision == Decision(
        reply="OK error:5.7.1 Recipient suppressed (manual)",
        outcome=Outcome.SUPPRESSED,
        domain="example.org",
        reason="manual",
        scope="newsletter",
    )
    assert socketmap_query(sm("nope", "a@example.org")) is None


def test_scoped_map_name_checks_that_list() -> None:
    lookup = MemoryLookup()
    lookup.suppress("a@example.org", "unsubscribe", scope="newsletter")
    responder = Responder(lookup)
    assert responder.socketmap(sm("suppressed", "a@example.org")).outcome is Outcome.ALLOWED
    assert (
        responder.socketmap(sm("suppressed.newsletter", "a@example.org")).outcome
        is Outcome.SUPPRESSED
    )
    assert lookup.scopes_seen == [None, "newsletter"]


def test_responder_passes_scope_from_rules_to_the_store() -> None:
    lookup = MemoryLookup()
    lookup.suppress("a@example.org", "unsubscribe", scope="promotions")
    responder = Responder(lookup, scope_rules=[ScopeRule.parse("sasl_username:bulk=promotions")])
    assert responder.policy(rcpt("a@example.org")).outcome is Outcome.ALLOWED
    assert responder.policy(rcpt("a@example.org", sasl_username="bulk")).outcome is (
        Outcome.SUPPRESSED
    )
    assert lookup.scopes_seen == [None, "promotions"]


class BrokenLookup:
    def lookup(self, canonical_address: str, *, scope: str | None) -> LookupResult:
        raise KeyError(canonical_address)


def test_a_store_that_crashes_defers_and_the_log_names_no_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responder = Responder(BrokenLookup())
    assert responder.policy(rcpt("canary-zq7x@example.org")).outcome is Outcome.UNAVAILABLE
    assert responder.socketmap(sm("transport", "canary-zq7x@example.org")).reply.startswith("TEMP")
    assert "KeyError" in caplog.text
    assert "canary-zq7x" not in caplog.text


def test_reason_class_is_a_closed_set() -> None:
    assert reason_class("complaint") == "complaint"
    assert reason_class("Complaint") == "other"
    assert reason_class(None) == "other"
