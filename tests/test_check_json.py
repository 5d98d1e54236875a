"""Check answers written as JSON directly say exactly what ``json.dumps`` says."""

from __future__ import annotations

import json

import pytest

from tests.check_answers import ANSWERS, as_dict
from vault.check_json import answer_writer
from vault.store import CheckAnswer


@pytest.mark.parametrize("answer", ANSWERS, ids=range(len(ANSWERS)))
def test_compact_writer_is_compact_json_dumps(answer: CheckAnswer) -> None:
    expected = json.dumps(as_dict(answer), ensure_ascii=False, separators=(",", ":"))
    assert answer_writer(compact=True)(answer) == expected


@pytest.mark.parametrize("answer", ANSWERS, ids=range(len(ANSWERS)))
def test_spaced_writer_is_default_json_dumps(answer: CheckAnswer) -> None:
    assert answer_writer(compact=False)(answer) == json.dumps(as_dict(answer), ensure_ascii=False)
