import json
from pathlib import Path

import pytest

from vault.addresses import NORMALIZATION_VERSION, canonical_address, parse_address
from vault.errors import InvalidAddress

VECTORS = json.loads((Path(__file__).parent / "vectors" / "addresses.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: repr(c["input"])[:40])
def test_valid_vectors(case: dict[str, str]) -> None:
    address = parse_address(case["input"])
    assert address.canonical == case["canonical"]
    assert address.local_part == case["local_part"]
    assert address.domain == case["domain"]


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: repr(c["input"])[:40])
def test_canonical_address_is_the_parsed_canonical_form(case: dict[str, str]) -> None:
    assert canonical_address(case["input"]) == case["canonical"]


@pytest.mark.parametrize("parse", [parse_address, canonical_address])
@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: repr(c["input"])[:40])
def test_invalid_vectors_name_the_problem(case: dict[str, str], parse) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidAddress) as caught:
        parse(case["input"])
    assert case["error"] in str(caught.value)


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: repr(c["input"])[:40])
def test_refusals_never_quote_the_local_part(case: dict[str, str]) -> None:
    local = case["input"].rpartition("@")[0].strip()
    with pytest.raises(InvalidAddress) as caught:
        parse_address(case["input"])
    if len(local) >= 4:
        assert local not in str(caught.value)


def test_repr_hides_the_local_part() -> None:
    address = parse_address("Kijitora@example.com")
    assert "ijitora" not in repr(address)
    assert address.deliverable == "Kijitora@example.com"


def test_case_variants_share_a_canonical_form() -> None:
    forms = {
        parse_address(a).canonical
        for a in ("KIJI@EXAMPLE.COM", "kiji@example.com", " Kiji@Example.com ")
    }
    assert forms == {"kiji@example.com"}


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidAddress):
        parse_address(b"kiji@example.com")  # type: ignore[arg-type]
    with pytest.raises(InvalidAddress):
        canonical_address(b"kiji@example.com")  # type: ignore[arg-type]


def test_normalization_is_versioned() -> None:
    assert NORMALIZATION_VERSION == 1
