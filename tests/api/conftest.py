"""Fixtures for the HTTP API: the app over the test store, a client, one token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.api.client import ApiClient, api_client
from vault.api.app import create_app
from vault.cli.principals import create_principal
from vault.principals.permissions import Role
from vault.store import Vault
from vault.subscribers.models import ConsentMethod

SUBSCRIBERS = ["a@example.com", "b@mail.example.com", "c@example.org"]


@pytest.fixture
def app(store: Vault) -> FastAPI:
    return create_app(store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[ApiClient]:
    with api_client(app) as client:
        yield client


@pytest.fixture
def tokens(store: Vault) -> dict[Role, str]:
    return {role: create_principal(store, name=f"test-{role}", roles=[role])[1] for role in Role}


@pytest.fixture
def as_role(client: ApiClient, tokens: dict[Role, str]):  # type: ignore[no-untyped-def]
    """``as_role(Role.SENDER)`` is a client calling with that role's token."""
    return lambda role: client.as_(tokens[role])


@pytest.fixture
def news(store: Vault) -> str:
    """A list named ``news`` with three subscribers on three domains."""
    store.create_list("news")
    for address in SUBSCRIBERS:
        store.subscribe(
            address, list_name="news", consent=ConsentMethod.DOUBLE_OPT_IN, source="form"
        )
    return "news"
