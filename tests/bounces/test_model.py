"""Reasons, groups and the privacy of results."""

from __future__ import annotations

from vault.bounces import BouncedRecipient, Group, Reason, group_of
from vault.bounces.model import GROUP_OF


def test_every_reason_has_a_group() -> None:
    assert set(GROUP_OF) == set(Reason)


def test_groups_follow_the_corpus_definition() -> None:
    assert group_of(Reason.USER_UNKNOWN) is Group.PERMANENT
    assert group_of(Reason.COMPLAINT) is Group.PERMANENT
    assert group_of(Reason.MAILBOX_FULL) is Group.TEMPORARY
    assert group_of(Reason.SPAM_DETECTED) is Group.NOT_RECIPIENT
    assert group_of(Reason.SYNTAX_ERROR) is Group.NOT_RECIPIENT
    assert group_of(Reason.VACATION) is Group.IGNORE


def test_repr_does_not_show_the_address_or_diagnostic() -> None:
    bounced = BouncedRecipient(
        recipient="kijitora@example.jp",
        status="5.1.1",
        diagnostic="550 <kijitora@example.jp>... User unknown",
        reason=Reason.USER_UNKNOWN,
        group=Group.PERMANENT,
    )
    text = repr(bounced)
    assert "kijitora" not in text
    assert "example.jp" in text
    assert bounced.domain == "example.jp"
