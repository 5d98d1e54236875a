"""The parser and classifier against every row of the shared Sisimai-labelled corpus.

Rows listed in ``known_misses.tsv`` are strict xfails: fixing one makes the run fail until the
list is updated, so the list can only shrink and the pass count in the report stays true.
"""

from __future__ import annotations

import pytest

from tests.bounces.corpus import (
    CORPUS,
    EXPECTED,
    Row,
    extra_permanent,
    known_misses,
    parsed,
    row_passes,
    rows,
    rows_by_file,
)
from vault.bounces import Action, base_action

pytestmark = pytest.mark.skipif(
    not EXPECTED.is_file(),
    reason=f"BOUNCE CORPUS MISSING: expected {EXPECTED} (../shared/corpus/bounces); "
    "corpus tests did not run",
)

_MISSES = known_misses()


def _param(row: Row) -> object:
    marks = [pytest.mark.xfail(strict=True, reason="known miss")] if row.key in _MISSES else []
    return pytest.param(row, id=row.key, marks=marks)


def _file_param(file: str) -> object:
    key = f"{file}:EXTRA"
    marks = [pytest.mark.xfail(strict=True, reason="known extra")] if key in _MISSES else []
    return pytest.param(file, id=file, marks=marks)


_BY_FILE = rows_by_file()


@pytest.mark.parametrize("row", [_param(r) for r in rows()])
def test_row_recipient_and_group(row: Row) -> None:
    assert row_passes(row), f"{row.file}: {row.group} ({row.reason}) expected"


@pytest.mark.parametrize("file", [_file_param(f) for f in sorted(_BY_FILE)])
def test_no_extra_permanent_recipients(file: str) -> None:
    assert extra_permanent(file, _BY_FILE[file]) == []


@pytest.mark.parametrize(
    "file", sorted(f for f, rs in _BY_FILE.items() if all(r.group == "I" for r in rs))
)
def test_ignore_only_files_give_only_ignore_actions(file: str) -> None:
    result = parsed(file)
    actions = {base_action(r.reason, r.domain) for r in result.recipients}
    assert actions <= {Action.IGNORE}


def test_every_corpus_file_parses_without_error() -> None:
    for path in sorted(CORPUS.glob("*.eml")):
        parsed(path.name)


def test_known_misses_name_real_rows() -> None:
    keys = {r.key for r in rows()} | {f"{f}:EXTRA" for f in _BY_FILE}
    assert keys >= _MISSES
