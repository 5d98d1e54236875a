"""One-click unsubscribe over HTTP (RFC 8058): the release's List-Unsubscribe link, posted back,
unsubscribes once and answers the same every time; forged links change nothing."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.api.client import ApiClient, api_client
from tests.api.test_permissions import snapshot
from tests.conftest import PUBLIC_URL
from vault.api.app import create_app
from vault.audit.models import AuditEntry
from vault.config import Settings
from vault.mailings.models import Mailing
from vault.principals.permissions import Role
from vault.store import Vault
from vault.subscribers.models import Subscriber
from vault.unsubscribe import ONE_CLICK, PAGE_HEADERS, list_unsubscribe_headers

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def release(as_role, store: Vault) -> list[dict[str, str]]:
    mailing = as_role(Role.MARKETING).post("/v1/mailings", json={"name": "m", "list": "news"})
    response = as_role(Role.SENDER).post(
        f"/v1/mailings/{mailing.json()['id']}/release", json={"reason": "send"}
    )
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert "summary" in lines[-1]
    return lines[:-1]


def audit_count(store: Vault) -> int:
    with store.read() as session:
        return len(session.scalars(select(AuditEntry.id)).all())


def test_released_link_unsubscribes_once_and_answers_the_same_twice(
    as_role, client: ApiClient, store: Vault, news: str
) -> None:
    lines = release(as_role, store)
    line = next(item for item in lines if item["address"] == "a@example.com")
    assert set(line) == {"subscriber_id", "address", "list_unsubscribe", "list_unsubscribe_post"}
    assert line["list_unsubscribe_post"] == ONE_CLICK == "List-Unsubscribe=One-Click"
    link = line["list_unsubscribe"]
    assert link.startswith(f"<{PUBLIC_URL}/u/") and link.endswith(">")
    url = link[1:-1]
    token = url.rsplit("/", 1)[1]
    assert {"List-Unsubscribe": link, "List-Unsubscribe-Post": ONE_CLICK} == (
        list_unsubscribe_headers(PUBLIC_URL, token)
    )
    # The link names nobody: no address, no local part, no subscriber or list id in any form.
    subscriber_id = uuid.UUID(line["subscriber_id"])
    with store.read() as session:
        list_id = session.get_one(Subscriber, subscriber_id).list_id
    for secret in (
        "a@example.com",
        "example.com",
        str(subscriber_id),
        subscriber_id.hex,
        str(list_id),
        list_id.hex,
    ):
        assert secret not in url.lower()
    assert all(other["list_unsubscribe"] != link for other in lines if other is not line)

    path = urlsplit(url).path
    anonymous = client.as_(None)
    first = anonymous.post(path, content=ONE_CLICK.encode(), headers=FORM)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    for name, value in PAGE_HEADERS.items():
        assert first.headers[name] == value
    assert "unsubscribed" in first.text
    assert "a@example.com" not in first.text
    with store.read() as session:
        assert session.get_one(Subscriber, subscriber_id).status == "unsubscribed"
    answer = store.check(["a@example.com"], list_name="news")[0]
    assert (answer.suppressed, answer.reason, answer.scope) == (True, "unsubscribe", "list:news")
    assert not store.check(["a@example.com"])[0].suppressed, "list-scoped, not global"

    before, audited = snapshot(store), audit_count(store)
    second = anonymous.post(path, content=ONE_CLICK.encode(), headers=FORM)
    assert second.status_code == 200 and second.text == first.text
    assert snapshot(store) == before and audit_count(store) == audited, "a no-op"


def test_any_body_and_content_type_is_accepted_and_never_redirected(
    as_role, client: ApiClient, store: Vault, news: str
) -> None:
    lines = release(as_role, store)
    anonymous = client.as_(None)
    bodies = [
        (b"", {}),
        (b'{"List-Unsubscribe": "One-Click"}', {"Content-Type": "application/json"}),
        (b"List-Unsubscribe=One-Click", {"Content-Type": "text/plain"}),
        (b"--b\r\n\r\n--b--", {"Content-Type": "multipart/form-data; boundary=b"}),
    ]
    for line, (content, headers) in zip(lines, bodies, strict=False):
        path = urlsplit(line["list_unsubscribe"][1:-1]).path
        response = anonymous.post(path, content=content, headers=headers)
        assert response.status_code == 200, (headers, response.status_code)
        assert "location" not in response.headers


def test_the_page_behind_the_link_changes_nothing(
    as_role, client: ApiClient, store: Vault, news: str
) -> None:
    line = release(as_role, store)[0]
    path = urlsplit(line["list_unsubscribe"][1:-1]).path
    before = snapshot(store)
    page = client.as_(None).get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert 'method="post"' in page.text and ONE_CLICK.split("=")[0] in page.text
    assert snapshot(store) == before


def test_forged_altered_and_foreign_links_are_404_and_change_nothing(
    as_role, client: ApiClient, store: Vault, news: str
) -> None:
    token = urlsplit(release(as_role, store)[0]["list_unsubscribe"][1:-1]).path.rsplit("/", 1)[1]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    before = snapshot(store)
    for bad in (flipped, token[:-2], token + "AA", "x", "a%40example.com", "A" * 87, "." * 5):
        for method in ("GET", "POST"):
            response = client.as_(None).request(
                method, f"/u/{bad}", content=ONE_CLICK.encode(), headers=FORM
            )
            assert response.status_code == 404, (bad, method)
            assert response.headers["content-type"].startswith("text/html")
            assert "not valid" in response.text
            assert response.headers["Referrer-Policy"] == "no-referrer"
    assert snapshot(store) == before


def test_without_a_public_url_a_release_fails_before_the_claim(
    store: Vault, settings: Settings, tokens: dict[Role, str], news: str
) -> None:
    unset = Vault.open(Settings(**{**settings.__dict__, "public_url": None}), clock=store.clock)
    try:
        with api_client(create_app(unset)) as client:
            mailing = client.as_(tokens[Role.MARKETING]).post(
                "/v1/mailings", json={"name": "m", "list": "news"}
            )
            mailing_id = mailing.json()["id"]
            response = client.as_(tokens[Role.SENDER]).post(
                f"/v1/mailings/{mailing_id}/release", json={"reason": "send"}
            )
            assert response.status_code == 500
            assert response.json()["type"] == "urn:mailvault:problem:server-misconfigured"
            assert "example.com" not in response.text
            # Forbidden roles still learn only that they are forbidden.
            other = client.as_(tokens[Role.MARKETING]).post(
                f"/v1/mailings/{mailing_id}/release", json={"reason": "send"}
            )
            assert other.status_code == 403
    finally:
        unset.close()
    with store.read() as session:
        assert session.get_one(Mailing, uuid.UUID(mailing_id)).status == "draft"
