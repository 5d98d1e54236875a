"""The audit hash chain: each entry's MAC covers its fields and the previous entry's MAC,
under the ``audit`` key, so an edited, removed or reordered entry breaks the chain."""

from __future__ import annotations

import json
from typing import Any

from vault.crypto import hmac_sha256

GENESIS_MAC = bytes(32)


def entry_mac(
    key: bytes,
    *,
    prev_mac: bytes,
    seq: int,
    entry_id: str,
    at: str,
    actor: str,
    role: str,
    tag: str,
    subject: str,
    details: dict[str, Any],
    key_id: int,
) -> bytes:
    body = json.dumps(
        {
            "seq": seq,
            "id": entry_id,
            "at": at,
            "actor": actor,
            "role": role,
            "tag": tag,
            "subject": subject,
            "details": details,
            "key_id": key_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()
    return hmac_sha256(key)(prev_mac + body)
