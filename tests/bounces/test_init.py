"""The package's public surface."""

from __future__ import annotations

import vault.bounces


def test_all_is_sorted_and_exported() -> None:
    names = vault.bounces.__all__
    # isort-style, as ruff keeps it: constants, then classes, then functions, each alphabetical.
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert hasattr(vault.bounces, name)
