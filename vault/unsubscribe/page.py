"""The small HTML pages behind an unsubscribe link, as pure functions of their inputs.

``GET /u/{token}`` must not unsubscribe (mail scanners follow links), so it shows a button that
POSTs ``List-Unsubscribe=One-Click`` back to the same URL, which is what a mail client does on
its own for a one-click unsubscribe (RFC 8058). The pages hold no address and load nothing.
"""

from __future__ import annotations

from html import escape

from vault.unsubscribe.tokens import ONE_CLICK

#: Headers for these pages: nothing loaded from elsewhere, no framing, no referrer leaving the
#: token to another site, no caching of a page whose URL is a credential.
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em}"
    "button{font:inherit;padding:.5em 1.5em;cursor:pointer}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{_STYLE}</style>\n"
        "</head>\n"
        f"<body>\n{body}</body>\n"
        "</html>\n"
    )


def render_confirmation_page(token: str) -> str:
    """The page ``GET /u/{token}`` shows: one button that unsubscribes."""
    name, _, value = ONE_CLICK.partition("=")
    # Relative to /u/{token} itself, so the page works wherever the API is mounted.
    action = escape(token, quote=True)
    return _page(
        "Unsubscribe",
        "<h1>Unsubscribe</h1>\n"
        "<p>Press the button to stop receiving this mailing list.</p>\n"
        f'<form method="post" action="{action}">\n'
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">\n'
        '<button type="submit">Unsubscribe</button>\n'
        "</form>\n",
    )


def render_done_page() -> str:
    """The page ``POST /u/{token}`` answers with, the first time and every time after."""
    return _page(
        "Unsubscribed",
        "<h1>You are unsubscribed</h1>\n"
        "<p>You will receive no more messages from this mailing list.</p>\n",
    )


def render_invalid_page() -> str:
    """The body of the 404 for a link that does not verify (says nothing about why)."""
    return _page(
        "Link not valid",
        "<h1>This link is not valid</h1>\n"
        "<p>Check that the whole address was copied from the message.</p>\n",
    )
