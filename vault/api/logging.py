"""Logging for ``mailvault serve``: uvicorn's own format, with request targets made safe.

Addresses travel only in request bodies, but a client may still put one in a URL by mistake;
the access log therefore drops every query string and masks any path segment holding an ``@``
(raw or percent-encoded), so no access log line can carry an address. An unsubscribe link's
token is a credential (whoever holds it can unsubscribe its recipient): the log keeps only its
first characters, the format and key id, enough to tell which key a failing link names.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_AT = re.compile(r"@|%40", re.IGNORECASE)


#: Characters of an unsubscribe token the access log keeps: format byte and key id (5 bytes).
TOKEN_PREFIX_CHARS = 7


def safe_target(target: str) -> str:
    path = target.split("?", 1)[0]
    if path.startswith("/u/"):
        token = path[len("/u/") :]
        return "/u/<redacted>" if _AT.search(token) else f"/u/{token[:TOKEN_PREFIX_CHARS]}..."
    return "/".join("<redacted>" if _AT.search(s) else s for s in path.split("/"))


class RedactTargets(logging.Filter):
    """Rewrites the request target of uvicorn access records (their third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], safe_target(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_targets": {"()": f"{__name__}.RedactTargets"}}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_targets"]
    config["loggers"]["vault"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
