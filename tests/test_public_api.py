import importlib

import pytest

import vault


@pytest.mark.parametrize("module", ["vault", "vault.crypto", "vault.db"])
def test_all_is_sorted_and_importable(module: str) -> None:
    mod = importlib.import_module(module)
    names = mod.__all__
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    for name in names:
        assert hasattr(mod, name), name


def test_embedding_api() -> None:
    assert vault.Vault is vault.store.Vault
    assert callable(vault.open_store)
