"""The SPEC §5 action table."""

from __future__ import annotations

import pytest

from vault.bounces import Action, Group, Reason, base_action, group_of


def test_corporate_user_unknown_needs_confirmation() -> None:
    assert base_action(Reason.USER_UNKNOWN, "example.com") is Action.CONFIRM
    assert base_action(Reason.HOST_UNKNOWN, "corp.example") is Action.CONFIRM


def test_consumer_user_unknown_suppresses_at_once() -> None:
    assert base_action(Reason.USER_UNKNOWN, "gmail.com") is Action.SUPPRESS
    assert base_action(Reason.USER_UNKNOWN, "hotmail.co.uk") is Action.SUPPRESS


def test_spam_rejection_counts_against_the_domain() -> None:
    assert base_action(Reason.SPAM_DETECTED, "example.com") is Action.DOMAIN
    assert base_action(Reason.BLOCKED, "gmail.com") is Action.DOMAIN


@pytest.mark.parametrize(
    "reason", [Reason.COMPLAINT, Reason.HAS_MOVED, Reason.NOT_ACCEPT, Reason.BAD_ADDRESS]
)
def test_always_suppressed(reason: Reason) -> None:
    assert base_action(reason, "example.com") is Action.SUPPRESS


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_maps_by_its_group(reason: Reason) -> None:
    action = base_action(reason, "example.com")
    expected = {
        Group.PERMANENT: {Action.SUPPRESS, Action.CONFIRM},
        Group.TEMPORARY: {Action.COUNT},
        Group.NOT_RECIPIENT: {Action.DOMAIN},
        Group.IGNORE: {Action.IGNORE},
    }[group_of(reason)]
    assert action in expected
