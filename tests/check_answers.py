"""Check answers that are awkward to write as JSON (quotes, non-ASCII, control and separator
characters, missing fields), and the dict ``json.dumps`` was given for one, shared by the tests
of every writer of check answers."""

from __future__ import annotations

from datetime import UTC, datetime

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
    """One answer as the API and ``check --json`` built it before: ``error`` only when set."""
    item: dict[str, object] = {
        "address": answer.address,
        "suppressed": answer.suppressed,
        "reason": answer.reason,
        "scope": answer.scope,
    }
    if answer.error is not None:
        item["error"] = answer.error
    return item
