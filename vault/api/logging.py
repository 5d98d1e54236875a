"""Logging for ``mailvault serve``: uvicorn's own format, with request targets made safe.

Addresses travel only in request bodies, but a client may still put one in a URL by mistake;
the access log therefore drops every query string and masks any path segment holding an ``@``
(raw or percent-encoded), so no access log line can carry an address.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_AT = re.compile(r"@|%40", re.IGNORECASE)


def safe_target(target: str) -> str:
    path = target.split("?", 1)[0]
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
