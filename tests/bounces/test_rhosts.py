"""Provider refusal references (Orange / La Poste, GoDaddy)."""

from __future__ import annotations

import pytest

from vault.bounces import Reason
from vault.bounces.rhosts import provider_reason


@pytest.mark.parametrize(
    ("diagnostic", "reason"),
    [
        ("550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]", Reason.SPAM_DETECTED),
        (
            "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416",
            Reason.USER_UNKNOWN,
        ),
        ("550 5.5.0 Le compte du destinataire est bloque. LPN007_426", Reason.SUSPENDED),
        ("421 Service refuse. Veuillez essayer plus tard. LPN006_107", Reason.UNDEFINED),
        (
            "550 5.1.1 <a@b.example> - 203.0.113.9 has sent to too many recipients. IB607",
            Reason.RATE_LIMITED,
        ),
        ("550 5.2.0 From: Domain is invalid. Please provide a valid From: IB506", Reason.REJECTED),
        ("550 5.1.1 User unknown", None),
        ("552 message size LIB1234", None),
        (None, None),
    ],
)
def test_provider_codes(diagnostic: str | None, reason: Reason | None) -> None:
    assert provider_reason(diagnostic) is reason
