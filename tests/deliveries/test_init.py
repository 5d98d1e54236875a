"""The package's public surface."""

from __future__ import annotations

import vault.deliveries


def test_all_is_sorted_and_exported() -> None:
    names = vault.deliveries.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert hasattr(vault.deliveries, name), name
