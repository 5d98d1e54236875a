"""Check answers written as JSON directly say exactly what ``json.dumps`` says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vault.check_json import answer_writer
from vault.store import CheckAnswer

ANSWERS = [
    CheckAnswer("plain@example.com", False, None, None),
    CheckAnswer("Kijitora@Example.COM", True, "hard_bounce", "global"),
    CheckAnswer("news@example.com", True, "unsubscribe", "list:news", datetime.now(UTC)),
    CheckAnswer("no-at-sign", False, None, None, error="the address has no @"),
    CheckAnswer('"quoted \\"odd\\" one"@example.com', False, None, None),
    CheckAnswer("ünïcødé@bücher.example", True, "complaint", 'list:Brief "é" news'),
    CheckAnswer("tab\there@example.com", False, None, None, error="control characters"),
    CheckAnswer("\u2028line\x7f@example.com", False, None, None),
    CheckAnswer("odd@example.com", True, None, None),
]


def as_dict(answer: CheckAnswer) -> dict[str, object]:
    item: dict[str, object] = {
        "address": answer.address,
        "suppressed": answer.suppressed,
        "reason": answer.reason,
        "scope": answer.scope,
    }
    if answer.error is not None:
        item["error"] = answer.error
    return item


@pytest.mark.parametrize("answer", ANSWERS, ids=range(len(ANSWERS)))
def test_compact_writer_is_compact_json_dumps(answer: CheckAnswer) -> None:
    expected = json.dumps(as_dict(answer), ensure_ascii=False, separators=(",", ":"))
    assert answer_writer(compact=True)(answer) == expected


@pytest.mark.parametrize("answer", ANSWERS, ids=range(len(ANSWERS)))
def test_spaced_writer_is_default_json_dumps(answer: CheckAnswer) -> None:
    assert answer_writer(compact=False)(answer) == json.dumps(as_dict(answer), ensure_ascii=False)
