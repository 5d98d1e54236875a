"""The literal screen in front of the phrase patterns: same answers as the patterns, always."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bounces.corpus import CORPUS, EXPECTED
from vault.bounces import parse_message
from vault.bounces.phrases import NETWORK_FAILURE, PHRASES, QUEUE_EXPIRY
from vault.bounces.screen import Screened, clauses

PATTERNS = [*PHRASES.values(), NETWORK_FAILURE, QUEUE_EXPIRY]
SCREENED = [(pattern, Screened(pattern)) for pattern in PATTERNS]


def _span(match: re.Match[str] | None) -> tuple[int, int] | None:
    return match.span() if match else None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"mail ?box (?:is )?full", [{"mail", "box ", "full"}]),
        (r"user (?:unknown|not found)", [{"user ", "not found"}, {"user ", "unknown"}]),
        (r"no such user|user unknown", [{"no such user"}, {"user unknown"}]),
        # A piece of one or two characters is in nearly every text: not worth looking for.
        (r"(?-i:ABC)x", [{"abc"}]),
        # Japanese can never match ASCII text; non-ASCII text always goes to the pattern.
        (r"abwesend|配信", [{"abwesend"}]),
        # U+017F (long s) matches "s" and "S" case-insensitively, as re decides.
        ("\u017fpam", [{"spam"}]),
    ],
)
def test_clauses(pattern: str, expected: list[set[str]]) -> None:
    assert clauses(re.compile(pattern, re.IGNORECASE)) == [frozenset(c) for c in expected]


@pytest.mark.parametrize("pattern", [r"\d{3}", r"[a-z]+\d", r"(?:a|\w)[bc]"])
def test_no_screen_without_a_required_literal(pattern: str) -> None:
    assert clauses(re.compile(pattern, re.IGNORECASE)) is None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"abwesend|配信", "Re: 配信"),
        ("\u017fpam", "550 SPAM"),
        ("spam", "550 \u017fpam"),  # non-ASCII text: straight to the pattern
        ("k", "\u212a"),  # the Kelvin sign matches k case-insensitively
        (r"user unknown", "550 USER   UNKNOWN"),
    ],
)
def test_same_answer_on_edge_cases(pattern: str, text: str) -> None:
    compiled = re.compile(pattern, re.IGNORECASE)
    assert _span(Screened(compiled).search(text)) == _span(compiled.search(text))


def _pieces() -> list[str]:
    found = {p for pattern in PATTERNS for c in clauses(pattern) or [] for p in c}
    return sorted(found)


PIECES = _pieces()
WORDS = ["550", "5.1.1", "<a@b.example>", "the", "mailbox", "user", "is", "not", ":", "...", "-"]


def _flip_case(text: str, flips: list[bool]) -> str:
    flips = flips + [False] * len(text)
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=False))


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PIECES + WORDS), max_size=8),
    separators=st.lists(st.sampled_from(["", " ", "  ", "\n", ": "]), min_size=8, max_size=8),
    flips=st.lists(st.booleans(), max_size=80),
)
def test_same_answer_as_every_phrase_pattern(
    parts: list[str], separators: list[str], flips: list[bool]
) -> None:
    text = _flip_case("".join(p + s for p, s in zip(parts, separators, strict=False)), flips)
    for pattern, screened in SCREENED:
        assert _span(screened.search(text)) == _span(pattern.search(text)), pattern


@pytest.mark.skipif(not EXPECTED.is_file(), reason="the shared bounce corpus is missing")
def test_same_answer_on_every_corpus_diagnostic() -> None:
    texts = {
        recipient.diagnostic
        for path in sorted(CORPUS.glob("*.eml"))
        for recipient in parse_message(path.read_bytes()).recipients
        if recipient.diagnostic
    }
    assert len(texts) > 300
    for pattern, screened in SCREENED:
        for text in texts:
            assert _span(screened.search(text)) == _span(pattern.search(text)), (pattern, text)
