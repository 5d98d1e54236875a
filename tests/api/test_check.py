"""``POST /v1/suppressions/check``: answers in order, list scopes, refusals naming the problem,
and a hand-written JSON body that says exactly what ``JSONResponse`` would."""

from __future__ import annotations

import pytest
from fastapi.responses import JSONResponse

from tests.check_answers import ANSWERS, as_dict
from vault.addresses import parse_address
from vault.api.routes.suppressions import check_response_json
from vault.api.schemas import CheckResponse
from vault.principals.permissions import Role
from vault.store import CheckAnswer, Vault
from vault.suppressions.models import SuppressionReason


def as_dicts(answers: list[CheckAnswer]) -> dict[str, object]:
    """The response as it was built before: a dict per result, ``error`` only when there is one."""
    return {"results": [as_dict(answer) for answer in answers]}


@pytest.mark.parametrize("count", [0, 1, len(ANSWERS)])
def test_written_json_is_what_json_response_sends(count: int) -> None:
    answers = ANSWERS[:count]
    body = check_response_json(answers)
    assert body == JSONResponse(as_dicts(answers)).body
    CheckResponse.model_validate_json(body)


def test_batch_over_http(store: Vault, as_role) -> None:  # type: ignore[no-untyped-def]
    store.create_list("news")
    store.suppress([parse_address("a@example.com")], reason=SuppressionReason.COMPLAINT, source="t")
    store.suppress(
        [parse_address("b@example.com")],
        reason=SuppressionReason.UNSUBSCRIBE,
        source="t",
        list_name="news",
    )
    sent = ["A@Example.com", "b@example.com", "nobody", "c@example.com", "b@example.com"]
    response = as_role(Role.SENDER).post(
        "/v1/suppressions/check", json={"addresses": sent, "list": "news"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "results": [
            {
                "address": "A@Example.com",
                "suppressed": True,
                "reason": "complaint",
                "scope": "global",
            },
            {
                "address": "b@example.com",
                "suppressed": True,
                "reason": "unsubscribe",
                "scope": "list:news",
            },
            {
                "address": "nobody",
                "suppressed": False,
                "reason": None,
                "scope": None,
                "error": "the address has no @",
            },
            {"address": "c@example.com", "suppressed": False, "reason": None, "scope": None},
            {
                "address": "b@example.com",
                "suppressed": True,
                "reason": "unsubscribe",
                "scope": "list:news",
            },
        ]
    }
    # Without the list, only global entries count.
    globally = as_role(Role.SENDER).post(
        "/v1/suppressions/check", json={"addresses": ["b@example.com", "a@example.com"]}
    )
    assert [r["suppressed"] for r in globally.json()["results"]] == [False, True]
