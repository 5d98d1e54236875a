"""Schemathesis over the published OpenAPI schema: whatever a client sends, no 5xx.

Every operation gets a few generated requests (bounded so a run stays well under a minute per
database), sent with a token holding every role so they get past authorization.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from vault.cli.principals import create_principal
from vault.principals.permissions import Role
from vault.store import Vault

EXAMPLES_PER_OPERATION = 10


def test_no_server_errors(app: FastAPI, store: Vault, news: str) -> None:
    token = create_principal(store, name="fuzz", roles=list(Role))[1]
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_5xx(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_5xx()
