"""Building the application from settings: a configuration error leaves no store open."""

from __future__ import annotations

import dataclasses

import pytest

from vault.api import app as app_module
from vault.api.app import create_app
from vault.config import Settings
from vault.errors import ConfigError
from vault.store import Vault


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"public_url": "ftp://mail.example.com"}, "public"),
        ({"sections": {"retention": {"audit_entry": "two years"}}}, "whole days"),
        ({"sections": {"api": {"max_body_bytes": "lots"}}}, "max_body_bytes"),
    ],
)
def test_a_configuration_error_is_raised_before_the_store_opens(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, object],
    complaint: str,
) -> None:
    opened: list[Vault] = []
    real_open = Vault.open

    def recording_open(*args: object, **kwargs: object) -> Vault:
        opened.append(real_open(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(app_module.Vault, "open", recording_open)
    broken = dataclasses.replace(settings, **change)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=complaint):
        create_app(broken, purge_schedule=True)
    assert opened == []


def test_an_app_built_from_settings_opens_its_store(settings: Settings) -> None:
    app = create_app(settings)
    try:
        assert isinstance(app.state.store, Vault)
        assert app.state.public_url == settings.public_url.rstrip("/")  # type: ignore[union-attr]
    finally:
        app.state.store.close()
