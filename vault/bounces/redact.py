"""Removal of addresses and local parts from diagnostic text, so that it can be stored and logged.

The product invariant: no address or local part is ever stored in plain text, diagnostics included.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# An address: a quoted or unquoted local part, "@", a domain (dotted or not, or a literal).
_ADDRESS = re.compile(
    r"(?:\"(?:[^\"\\\r\n]|\\.)*\"|[^\s<>()\[\]{},;:\"@]+)@(?:\[[^\]\s]*\]|[^\s<>()\[\]{},;:\"'@]+)"
)
# A bare local part quoted in angle brackets or quotes ("<kijitora>", "user 'kijitora'"), as
# MTAs print when the domain is implied; also "user kijitora" style mentions are too ambiguous
# to catch, but the bracketed forms are how MTAs quote them.
_BRACKETED = re.compile(r"<(?!redacted>)[^<>\s@]{1,256}>")
_QUOTED_USER = re.compile(
    r"(?i)((?:user|mailbox|recipient|account|alias)\s+)(['\"])[^'\"\s]{1,256}\2"
)
# "unknown user: kijitora", "User: 'kijitora'": a bare local part right after "user:".
_AFTER_USER_COLON = re.compile(r"(?i)(\buser:[ \t]*)['\"]?[^\s'\"<>@,;()\[\]]{1,256}['\"]?")
# Paths name the mailbox owner too (/var/mail/kijitora, /home/kijitora/Maildir).
_MAILBOX_PATH = re.compile(r"(/(?:var/)?(?:spool/)?(?:mail|home|Maildir|vmail)/)[^\s/\"']+")


def redact_diagnostic(text: str) -> str:
    """``text`` with every address and bracketed local part replaced by ``<redacted>``."""
    text = _ADDRESS.sub(REDACTED, text)
    text = _BRACKETED.sub(REDACTED, text)
    text = _QUOTED_USER.sub(rf"\g<1>{REDACTED}", text)
    text = _AFTER_USER_COLON.sub(rf"\g<1>{REDACTED}", text)
    return _MAILBOX_PATH.sub(rf"\g<1>{REDACTED}", text)
