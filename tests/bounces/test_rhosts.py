"""Provider refusal references (Orange / La Poste, GoDaddy)."""

from __future__ import annotations

import pytest

from vault.bounces import Reason
from vault.bounces.rhosts import provider_reason, status_reason


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
        ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", Reason.USER_UNKNOWN),
        ("550 4.4.7 QUEUE.Expired; message expired", Reason.EXPIRED),
        ("550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized", Reason.REJECTED),
        ("554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", Reason.HOST_UNKNOWN),
        ("550 5.1.1 User unknown", None),
        ("552 message size LIB1234", None),
        (None, None),
    ],
)
def test_provider_codes(diagnostic: str | None, reason: Reason | None) -> None:
    assert provider_reason(diagnostic) is reason


@pytest.mark.parametrize(
    ("diagnostic", "remote_mta", "reason"),
    [
        ("550 <a@ezweb.ne.jp>: User unknown", "lsean.ezweb.ne.jp", Reason.USER_UNKNOWN),
        ("550 : User unknown", "lsean.ezweb.ne.jp. (192.0.2.1)", Reason.FILTERED),
        (
            "550 5.1.351 Remote server returned ... -> 550 : User unknown",
            "msmx.au.com",
            Reason.FILTERED,
        ),
        ("host lsean.ezweb.ne.jp [192.0.2.1]: 550 : User unknown", None, Reason.FILTERED),
        # The same words from any other host are left to the general rules.
        ("550 : User unknown", "mx.example.net", None),
    ],
)
def test_kddi_by_remote_host(
    diagnostic: str, remote_mta: str | None, reason: Reason | None
) -> None:
    assert provider_reason(diagnostic, remote_mta) is reason


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("5.4.312", Reason.NETWORK_ERROR),
        ("4.4.316", Reason.EXPIRED),
        ("5.7.505", Reason.FILTERED),
        ("5.7.708", Reason.RATE_LIMITED),
        ("5.7.1", None),
        ("5.4.3", None),
        (None, None),
    ],
)
def test_exchange_online_codes(status: str | None, reason: Reason | None) -> None:
    assert status_reason(status) is reason


@pytest.mark.parametrize(
    ("status", "command", "reason"),
    [
        ("5.0.0", "DATA", Reason.REJECTED),
        ("5.0.0", "RCPT", Reason.USER_UNKNOWN),
        ("5.2.0", "DATA", Reason.FILTERED),
        ("5.1.1", None, Reason.USER_UNKNOWN),
    ],
)
def test_docomo_by_status_and_command(status: str, command: str | None, reason: Reason) -> None:
    diagnostic = "550 Unknown user someone@docomo.example.ne.jp"
    found = provider_reason(diagnostic, "mfsmax.docomo.ne.jp", status=status, command=command)
    assert found is reason
    assert provider_reason(diagnostic, "mx.example.net", status=status, command=command) is None


def test_mimecast_host_network_policy() -> None:
    text = "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554"
    assert provider_reason(text, "us-smtp-inbound-1.mimecast.com") is Reason.POLICY_VIOLATION
