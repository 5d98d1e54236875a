"""Privacy invariant 1 over the API: the canary's local part is in no response body (except the
release to a sender and the echo of what the caller just sent), in no log line (uvicorn's
access log included, from a real server), and nowhere in the database. The unsubscribe link's
token appears in no log line either (the access log keeps its header only)."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from tests.api.client import ApiClient
from tests.canary import CANARY, CANARY_DOMAIN, CANARY_LOCAL, assert_absent, database_bytes
from tests.conftest import REPO
from tests.deliveries.messages import CORPORATE_HARD, CORPUS, MAILBOX_FULL, message_for
from vault.audit.models import AuditEntry
from vault.principals.permissions import Role
from vault.store import Vault

# (role or None for no token, method, path, JSON body, and optionally content= and headers=)
Call = Callable[..., httpx.Response]
RFC822 = {"Content-Type": "message/rfc822"}
ONE_CLICK_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _without(body: Any, key: str) -> Any:
    """The body with every ``key`` field removed (the echo of the caller's own input)."""
    if isinstance(body, dict):
        return {k: _without(v, key) for k, v in body.items() if k != key}
    if isinstance(body, list):
        return [_without(v, key) for v in body]
    return body


def exercise(call: Call) -> str:
    """Push the canary through every API path, checking each response as it comes. Returns the
    canary's unsubscribe link path (``/u/<token>``)."""

    def ok(
        role: Role | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        echo: bool = False,
        **raw: Any,
    ) -> Any:
        response = call(role, method, path, body, **raw)
        assert response.status_code < 500, (path, response.status_code)
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("application/x-ndjson"):
            return response.text
        if "json" not in content_type:  # HTML pages, CSV
            assert_absent(response.text, path)
            return response.text
        parsed = response.json()
        assert_absent(json.dumps(_without(parsed, "address") if echo else parsed), path)
        return parsed

    m, s, sup, c = Role.MARKETING, Role.SENDER, Role.SUPPORT, Role.COMPLIANCE
    ok(m, "POST", "/v1/lists", {"name": "canary-news"})
    for address in (CANARY, CANARY.upper(), f"{CANARY_LOCAL}@other.example"):
        ok(
            m,
            "POST",
            "/v1/lists/canary-news/subscribers",
            {"address": address, "consent": "double_opt_in", "source": "form"},
        )
    ok(m, "GET", "/v1/lists")
    ok(m, "GET", "/v1/lists/canary-news")
    ok(m, "POST", "/v1/segments/preview", {"list": "canary-news", "include_domains": ["*.example"]})
    mailing = ok(m, "POST", "/v1/mailings", {"name": "canary mailing", "list": "canary-news"})
    ok(m, "GET", f"/v1/mailings/{mailing['id']}")
    ok(m, "GET", f"/v1/mailings/{mailing['id']}/recipients")
    ok(m, "GET", "/v1/mailings")
    ok(sup, "POST", "/v1/lookup", {"address": CANARY}, echo=True)
    checked = ok(
        s, "POST", "/v1/suppressions/check", {"addresses": [CANARY, "x@y.example"]}, echo=True
    )
    assert checked["results"][0]["address"] == CANARY
    released = ok(s, "POST", f"/v1/mailings/{mailing['id']}/release", {"reason": "send"})
    assert CANARY_LOCAL in released, "positive control: the release does carry the address"
    lines = [json.loads(line) for line in released.splitlines()]
    (canary_line,) = [line for line in lines if line.get("address") == CANARY]
    link = urlsplit(canary_line["list_unsubscribe"][1:-1]).path
    assert_absent(link, "the unsubscribe link")
    # The recipient follows the link: no token, any body, then again.
    ok(None, "GET", link)
    ok(None, "POST", link, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK_FORM)
    ok(None, "POST", link, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK_FORM)
    ok(None, "POST", f"{link[:-3]}AAA")
    ok(None, "GET", f"/u/{CANARY_LOCAL}")
    ok(None, "POST", f"/u/{CANARY_LOCAL}%40{CANARY_DOMAIN}")
    # The sender reports outcomes: JSON events and raw messages about the canary.
    ok(
        s,
        "POST",
        "/v1/events",
        {
            "type": "bounce",
            "recipient": CANARY,
            "status": "4.2.2",
            "diagnostic": f'552 5.2.2 <{CANARY}>: mailbox of "{CANARY_LOCAL}" is full',
            "list": "canary-news",
        },
    )
    ok(s, "POST", "/v1/events", {"type": "complaint", "recipient": CANARY, CANARY: CANARY})
    ok(s, "POST", "/v1/events", {"type": "bounce", "recipient": CANARY, "list": CANARY})
    ok(s, "POST", "/v1/events", {"type": "bounce", "recipient": f"{CANARY_LOCAL}@@x.example"})
    if (CORPUS / "expected.tsv").is_file():
        for kind in (MAILBOX_FULL, CORPORATE_HARD):
            raw = message_for(kind, f"{CANARY_LOCAL}@other.example")
            ok(s, "POST", "/v1/events", content=raw, headers=RFC822)
    ok(s, "POST", "/v1/events", content=CANARY.encode(), headers=RFC822)
    ok(c, "POST", "/v1/subject-access", {"address": CANARY}, echo=True)
    ok(c, "POST", "/v1/subject-access", {"address": f"{CANARY_LOCAL}@other.example"}, echo=True)
    for format_ in ("json", "csv", "html"):
        ok(c, "GET", f"/v1/reports/purges?format={format_}")
    ok(
        s,
        "POST",
        "/v1/suppressions",
        {
            "addresses": [f"{CANARY_LOCAL}@other.example", f"{CANARY_LOCAL}@@bad"],
            "reason": "manual",
        },
    )
    ok(
        sup,
        "POST",
        "/v1/suppressions/remove",
        {"address": f"{CANARY_LOCAL}@other.example", "reason": "manual"},
    )
    ok(sup, "POST", "/v1/lists/canary-news/unsubscribe", {"address": CANARY})
    ok(m, "GET", "/v1/reports/domains")
    ok(m, "GET", "/v1/reports/suppressions")
    # Misplaced addresses and malformed bodies: refused or ignored, never echoed.
    ok(m, "GET", f"/v1/lists?address={CANARY}")
    ok(m, "GET", f"/v1/lists/{CANARY_LOCAL}%40{CANARY_DOMAIN}")
    ok(sup, "POST", "/v1/lookup", {"address": CANARY, CANARY: CANARY})
    ok(sup, "POST", "/v1/lookup", {"address": f"{CANARY_LOCAL}@@{CANARY_DOMAIN}"})
    ok(
        m,
        "POST",
        "/v1/lists/canary-news/subscribers",
        {"address": CANARY, "consent": CANARY, "source": CANARY},
    )
    ok(c, "POST", "/v1/erasures", {"address": CANARY, "source": "ticket 7"})
    ok(c, "POST", "/v1/subjects/erase", {"address": f"{CANARY_LOCAL}@other.example", "source": "t"})
    ok(c, "POST", "/v1/subject-access", {"address": CANARY}, echo=True)
    ok(c, "GET", "/v1/audit?limit=1000")
    ok(c, "GET", "/v1/audit/verify")
    return link


def _assert_store_clean(store: Vault, database_url: str) -> None:
    assert_absent(database_bytes(database_url), "the database")
    with store.read() as session:
        for entry in session.scalars(select(AuditEntry)):
            assert_absent(f"{entry.subject} {entry.details}", "the audit log")


def test_canary_over_the_api_in_process(
    client: ApiClient,
    tokens: dict[Role, str],
    store: Vault,
    database_url: str,
    captured_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx logs the client's own request lines; the misplaced-URL calls below are the client's
    # mistake on purpose. The server side of those is checked against a real access log below.
    monkeypatch.setattr(logging.getLogger("httpx"), "disabled", True)
    link = exercise(
        lambda role, method, path, body, **raw: client.as_(tokens[role] if role else None).request(
            method, path, json=body, **raw
        )
    )
    assert_absent(captured_logs.getvalue(), "the captured logs")
    assert link.rsplit("/", 1)[1] not in captured_logs.getvalue()
    _assert_store_clean(store, database_url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``mailvault serve`` in a subprocess; yields its base URL and its log file."""
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "vault", "serve", "--port", str(port), "--log-level", "debug"],
            env={**cli_env, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_canary_over_a_real_server_and_its_access_log(
    server: tuple[str, Path], tokens: dict[Role, str], store: Vault, database_url: str
) -> None:
    base, log = server

    def call(role: Role | None, method: str, path: str, body: Any, **raw: Any) -> httpx.Response:
        headers = dict(raw.pop("headers", None) or {})
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return http.request(method, path, json=body, headers=headers, **raw)

    with httpx.Client(base_url=base, timeout=30) as http:
        link = exercise(call)
    time.sleep(0.2)
    text = log.read_text()
    assert '"POST /v1/lookup HTTP/1.1" 200' in text, "the access log was captured"
    assert "/v1/lists/<redacted>" in text and "address=" not in text
    token = link.rsplit("/", 1)[1]
    assert f'"POST /u/{token[:7]}... HTTP/1.1" 200' in text, "the link, shortened"
    assert token not in text and token[:20] not in text
    assert '"POST /v1/events HTTP/1.1" 200' in text
    assert "scheduled purge" in text, "serve purges on its schedule (the first one at start)"
    assert_absent(text, "the server's log (uvicorn access and error logs)")
    for token in tokens.values():
        assert token not in text
    _assert_store_clean(store, database_url)
