"""A cheap literal test in front of a costly case-insensitive pattern, with the same answers.

Derived from the pattern itself, so the phrase lists can change freely; see ``Screened``.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

# The stdlib's own regular-expression parser: private, but the only exact reading of a pattern.
# Should it move or change shape, ``clauses`` finds none and every pattern simply runs.
try:
    _parser: Any = importlib.import_module("re._parser")
    _c: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - a Python whose re package is laid out otherwise
    _parser = _c = None

#: What ``_ascii_equivalent`` says of a character that no ASCII character matches.
_IMPOSSIBLE = "impossible"
#: Clauses kept per pattern; beyond this, a sequence's later requirements are left out
#: (which only makes the screen let more texts through to the pattern).
MAX_CLAUSES = 64

Clauses = list[frozenset[str]]


class Screened:
    """``pattern.search`` that first asks whether the text (if ASCII) contains, in any case,
    the literal pieces a match must contain: most texts do not, and looking for a few
    substrings costs a fraction of trying a large case-insensitive alternation at every
    position, which is what ``re`` does when no literal prefix can guide it.

    The answer is always the pattern's own: the screen only skips searches that cannot match.
    """

    __slots__ = ("_by_piece", "_first", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        found = clauses(pattern) or []
        # Each clause is filed under its longest piece; the rest of it is checked only when
        # that piece is there.
        by_piece: dict[str, list[frozenset[str]]] = {}
        for clause in found:
            piece = max(sorted(clause), key=len)
            by_piece.setdefault(piece, []).append(clause - {piece})
        self._by_piece = {piece: tuple(rests) for piece, rests in by_piece.items()}
        # Case-sensitive literals over lower-cased text let ``re`` skip ahead to characters
        # that can start one, which a case-insensitive pattern of words never lets it do.
        self._first = re.compile("|".join(map(re.escape, by_piece))) if by_piece else None

    def search(self, text: str) -> re.Match[str] | None:
        if self._first is not None and text.isascii():
            lowered = text.lower()
            if not self._first.search(lowered) or not any(
                piece in lowered and any(all(p in lowered for p in rest) for rest in rests)
                for piece, rests in self._by_piece.items()
            ):
                return None
        return self.pattern.search(text)

    def __repr__(self) -> str:
        return f"Screened({self.pattern.pattern!r}, pieces={self._by_piece!r})"


def clauses(pattern: re.Pattern[str]) -> Clauses | None:
    """Sets of lower-case strings such that any ASCII text the pattern matches contains every
    string of at least one set; ``None`` when the pattern needs no literal (or cannot be read).
    """
    if _parser is None or not isinstance(pattern.pattern, str):
        return None
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        found = _required(list(parsed.data), parsed.state.flags)
    except Exception:  # any surprise in the private parser's shape: no screen, same answers
        return None
    if found is None:
        return None
    # In a clause, a piece inside a longer one is implied by it, and pieces of one or two
    # characters are in nearly every text; a clause that holds another adds nothing to an "or".
    tidy: set[frozenset[str]] = set()
    for clause in found:
        kept = {p for p in clause if len(p) > 2 and not any(o != p and p in o for o in clause)}
        tidy.add(frozenset(kept or {max(clause, key=len)}))
    return sorted((c for c in tidy if not any(o < c for o in tidy)), key=sorted)


def _required(items: list[tuple[Any, Any]], flags: int) -> Clauses | None:
    """What a sequence of parsed items requires, as alternatives each of which is a set of
    strings that must all occur: ``None`` if nothing; empty if no ASCII text can match."""
    needs: list[Clauses] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            needs.append([frozenset({"".join(run)})])
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            char = _ascii_equivalent(av, flags & (re.IGNORECASE | re.ASCII))
            if char == _IMPOSSIBLE:
                return []
            if char is None:
                end_run()
            else:
                run.append(char)
            continue
        end_run()
        found: Clauses | None = None
        if op is _c.SUBPATTERN:
            _, add_flags, del_flags, sub = av
            found = _required(list(sub.data), (flags | add_flags) & ~del_flags)
        elif op is _c.BRANCH:
            options = [_required(list(sub.data), flags) for sub in av[1]]
            if all(option is not None for option in options):
                found = [clause for option in options if option for clause in option]
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, _, sub = av
            if low >= 1:
                found = _required(list(sub.data), flags)
        elif op is _c.ATOMIC_GROUP:
            found = _required(list(av.data), flags)
        # Anything else (classes, anchors, lookarounds, back references) requires no literal.
        if found is not None:
            if not found:
                return []
            needs.append(found)
    end_run()
    if not needs:
        return None
    # Every need must be met: combine them, longest pieces first, as long as the number of
    # alternatives stays small; a need left out only makes the screen less selective.
    needs.sort(key=lambda need: (-min(max(len(p) for p in c) for c in need), len(need)))
    combined = needs[0]
    for need in needs[1:]:
        if len(combined) * len(need) <= MAX_CLAUSES:
            combined = [a | b for a in combined for b in need]
    return combined


@functools.cache
def _ascii_equivalent(code: int, flags: int) -> str | None:
    """The one lower-case ASCII character that the literal ``chr(code)`` matches under
    ``flags`` (as ``re`` itself decides), ``_IMPOSSIBLE`` if it matches none, else ``None``."""
    literal = re.compile(re.escape(chr(code)), flags)
    matched = {chr(a).lower() for a in range(128) if literal.fullmatch(chr(a))}
    if not matched:
        return _IMPOSSIBLE
    return matched.pop() if len(matched) == 1 else None
