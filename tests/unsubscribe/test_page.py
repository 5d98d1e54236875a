"""The confirmation and done pages: pure functions, a POST button, nothing loaded from outside."""

from __future__ import annotations

import importlib
from html.parser import HTMLParser

import pytest

from vault.unsubscribe import (
    PAGE_HEADERS,
    render_confirmation_page,
    render_done_page,
    render_invalid_page,
)

TOKEN = "AQAAAAB" + "x" * 80


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append(found)
        if tag == "input":
            self.inputs.append(found)
        if tag in ("script", "img", "link", "iframe") or "src" in found:
            self.loads.append(tag)


def parse(page: str) -> _Forms:
    parser = _Forms()
    parser.feed(page)
    return parser


def test_the_confirmation_page_posts_one_click_to_the_same_url() -> None:
    page = parse(render_confirmation_page(TOKEN))
    [form] = page.forms
    assert form["method"] == "post" and form["action"] == TOKEN
    assert {"type": "hidden", "name": "List-Unsubscribe", "value": "One-Click"} in page.inputs
    assert page.loads == []


def test_the_token_is_escaped() -> None:
    page = render_confirmation_page('"><script>alert(1)</script>')
    assert "<script>" not in page and parse(page).loads == []


@pytest.mark.parametrize("render", [render_done_page, render_invalid_page])
def test_the_other_pages_have_no_form(render) -> None:  # type: ignore[no-untyped-def]
    page = parse(render())
    assert page.forms == [] and page.loads == []


def test_page_headers_forbid_loading_and_leaking() -> None:
    assert "default-src 'none'" in PAGE_HEADERS["Content-Security-Policy"]
    assert PAGE_HEADERS["Referrer-Policy"] == "no-referrer"
    assert PAGE_HEADERS["Cache-Control"] == "no-store"


def test_all_is_sorted_and_importable() -> None:
    mod = importlib.import_module("vault.unsubscribe")
    names = mod.__all__
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    for name in names:
        assert hasattr(mod, name), name
