"""Check answers as JSON objects, written directly: ``POST /v1/suppressions/check`` and
``mailvault check --json`` answer up to millions of addresses, where a dict per answer and
``json.dumps`` cost more than the check itself.

Each writer gives exactly what ``json.dumps`` (``ensure_ascii=False``) gives for the answer's
``{"address", "suppressed", "reason", "scope"}`` object, ``error`` added only on an invalid
address; ``tests/test_check_json.py`` holds them to that.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring

from vault.store import CheckAnswer


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def answer_writer(*, compact: bool) -> Callable[[CheckAnswer], str]:
    """A function from answer to JSON object text: compact separators (``,`` ``:``) as the API
    sends, or ``json.dumps``'s default ones (``, `` ``: ``) as the CLI prints."""
    comma, colon = (",", ":") if compact else (", ", ": ")
    start = '{"address"' + colon
    unsuppressed = (
        f'{comma}"suppressed"{colon}false{comma}"reason"{colon}null{comma}"scope"{colon}null'
    )
    error = f'{comma}"error"{colon}'
    suppressed = f'{comma}"suppressed"{colon}true{comma}"reason"{colon}'
    scope = f'{comma}"scope"{colon}'
    text = encode_basestring  # the JSON string literal json.dumps itself writes

    def write(answer: CheckAnswer) -> str:
        if answer.error is not None:
            return start + text(answer.address) + unsuppressed + error + text(answer.error) + "}"
        if not answer.suppressed:
            return start + text(answer.address) + unsuppressed + "}"
        return (
            start
            + text(answer.address)
            + suppressed
            + _text_or_null(answer.reason)
            + scope
            + _text_or_null(answer.scope)
            + "}"
        )

    return write
