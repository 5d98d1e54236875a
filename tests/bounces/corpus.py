"""Access to the shared bounce corpus (``../shared/corpus/bounces``) and how a row is judged.

The corpus is test data under other licences: it is read in place and never copied here.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vault.bounces import ParsedMessage, parse_message
from vault.bounces.mime import normalize_recipient
from vault.bounces.model import Group, Kind, Reason

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bounces"
EXPECTED = CORPUS / "expected.tsv"
KNOWN_MISSES = Path(__file__).with_name("known_misses.tsv")

#: Sisimai's stand-in when a complaint names no recipient anywhere; we report no recipient then.
SISIMAI_UNKNOWN = "undisclosed-recipient-in-headers@libsisimai.org.invalid"


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    recipient: str
    status: str
    reason: str
    group: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.recipient}"


def rows() -> list[Row]:
    if not EXPECTED.is_file():
        return []
    with EXPECTED.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Row(**{k: (v or "") for k, v in line.items()}) for line in reader]


def rows_by_file() -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows():
        grouped[row.file].append(row)
    return dict(grouped)


@cache
def parsed(file: str) -> ParsedMessage:
    return parse_message((CORPUS / file).read_bytes())


def canonical(address: str) -> str:
    return (normalize_recipient(address) or address).lower()


def row_passes(row: Row) -> bool:
    """The recipient is in the file's result (canonical, case-insensitive) with the row's group."""
    result = parsed(row.file)
    if row.recipient == SISIMAI_UNKNOWN:
        return result.kind is Kind.ARF and all(
            r.reason is Reason.COMPLAINT for r in result.recipients
        )
    wanted = canonical(row.recipient)
    found = [r for r in result.recipients if r.recipient.lower() == wanted]
    return bool(found) and found[0].group == Group(row.group)


def extra_permanent(file: str, expected: list[Row]) -> list[str]:
    """P-group recipients of a file that expected.tsv does not list (complaints for a file whose
    complainer Sisimai could not name are not extra: the report is about someone)."""
    names = {canonical(r.recipient) for r in expected}
    placeholder = any(r.recipient == SISIMAI_UNKNOWN for r in expected)
    return [
        r.recipient
        for r in parsed(file).recipients
        if r.group is Group.PERMANENT
        and r.recipient.lower() not in names
        and not (placeholder and r.reason is Reason.COMPLAINT)
    ]


def known_misses() -> set[str]:
    """Rows (``file:recipient``) and files (``file:EXTRA``) known not to pass yet."""
    if not KNOWN_MISSES.is_file():
        return set()
    lines = KNOWN_MISSES.read_text(encoding="utf-8").splitlines()
    return {line.split("\t")[0] for line in lines if line and not line.startswith("#")}
