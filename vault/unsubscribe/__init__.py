"""One-click unsubscribe (RFC 8058): sealed link tokens, unsubscribing by token, the pages.

Only ``GET``/``POST /u/{token}`` and the release headers use this; see ``docs/bounces.md``.
"""

from vault.unsubscribe.page import (
    PAGE_HEADERS,
    render_confirmation_page,
    render_done_page,
    render_invalid_page,
)
from vault.unsubscribe.services import UnsubscribeResult, unsubscribe_by_token
from vault.unsubscribe.tokens import (
    ONE_CLICK,
    create_token,
    list_token_maker,
    list_unsubscribe_headers,
    unsubscribe_url,
    verify_token,
)

__all__ = [
    "ONE_CLICK",
    "PAGE_HEADERS",
    "UnsubscribeResult",
    "create_token",
    "list_token_maker",
    "list_unsubscribe_headers",
    "render_confirmation_page",
    "render_done_page",
    "render_invalid_page",
    "unsubscribe_by_token",
    "unsubscribe_url",
    "verify_token",
]
