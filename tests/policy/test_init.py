"""The public API of vault.policy: what __init__ re-exports, sorted and importable."""

from __future__ import annotations

import vault.policy
from vault.policy import daemon, lookup, metrics, netstring, responder, scope, socketmap, wire


def isort_order(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions, each alphabetical (ruff's RUF022 order).
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_every_name_exists() -> None:
    names = vault.policy.__all__
    assert names == sorted(names, key=isort_order)
    for name in names:
        assert getattr(vault.policy, name) is not None


def test_module_all_lists_name_real_objects() -> None:
    for module in (daemon, lookup, metrics, netstring, responder, scope, socketmap, wire):
        assert module.__all__ == sorted(module.__all__, key=isort_order), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
