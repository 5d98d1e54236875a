"""Address parsing and normalization (SPEC §3): one versioned function turns what a user typed
into the parts mailvault stores (plain domain, sealed local part) and the canonical form it hashes.

A refusal raises ``InvalidAddress`` with a message that names the problem and never the address,
because refusals end up in logs and rejects files.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

import idna

from vault.errors import InvalidAddress

#: Bumped whenever ``parse_address`` would give a different canonical form for some input; stored
#: beside every digest so that entries made under an older version can be found and rehashed.
NORMALIZATION_VERSION = 1

MAX_LOCAL_OCTETS = 64
MAX_DOMAIN_OCTETS = 255
MAX_LABEL_OCTETS = 63

# RFC 5322 atext, widened by RFC 6531 to every non-ASCII character (internationalized mail).
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff"
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The shape of nearly every real address: ASCII dot-atom @ ASCII host name. Such input needs no
# Unicode normalization and no IDNA, so it takes a fast path of one regular expression.
_ASCII_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_SIMPLE_ADDRESS = re.compile(
    rf"([{_ASCII_ATEXT}]+(?:\.[{_ASCII_ATEXT}]+)*)@"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)"
)
_ASCII_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


class Address(NamedTuple):
    """A parsed address.

    ``local_part`` keeps the case it was given (it is what gets encrypted and delivered to);
    ``domain`` is the IDNA A-label in lower case (stored in plain text); ``canonical`` is the
    lower-cased form that is hashed for suppression and lookup. A named tuple, because
    imports and batch checks make millions of them and a frozen dataclass is slower to build.
    """

    local_part: str
    domain: str
    canonical: str

    @property
    def deliverable(self) -> str:
        """The address to put in an envelope: original local part, normalized domain."""
        return f"{self.local_part}@{self.domain}"

    def __repr__(self) -> str:
        # Never let a stray repr() in a log or traceback carry the local part.
        return f"Address(domain={self.domain!r}, local_part=<{len(self.local_part)} chars>)"


def parse_address(raw: str) -> Address:
    """Parse and normalize one address, or raise ``InvalidAddress`` naming the problem."""
    if not isinstance(raw, str):
        raise InvalidAddress("an address must be text")
    if raw.isascii():
        simple = _SIMPLE_ADDRESS.fullmatch(raw.strip())
        if simple is not None:
            local, domain = simple.groups()
            if len(local) <= MAX_LOCAL_OCTETS:
                domain = normalize_domain(domain)
                return Address(local, domain, f"{local.lower()}@{domain}")
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise InvalidAddress("the address is empty")
    if _CONTROL.search(text):
        raise InvalidAddress("the address contains control characters")
    at = text.rfind("@")
    if at < 0:
        raise InvalidAddress("the address has no @")
    local_raw, domain_raw = text[:at], text[at + 1 :]
    local = _parse_local_part(local_raw)
    domain = normalize_domain(domain_raw)
    return Address(local_part=local, domain=domain, canonical=f"{local.lower()}@{domain}")


def canonical_address(raw: str) -> str:
    """``parse_address(raw).canonical``, without building the parts: what a check needs.

    The same fast path for ASCII dot-atoms, minus a named tuple per address (checks of
    millions of addresses); anything else goes through ``parse_address`` and raises as it does.
    """
    if raw.__class__ is str and raw.isascii():
        simple = _SIMPLE_ADDRESS.fullmatch(raw.strip())
        if simple is not None:
            local, domain = simple.groups()
            if len(local) <= MAX_LOCAL_OCTETS:
                return f"{local.lower()}@{normalize_domain(domain)}"
    return parse_address(raw).canonical


def _parse_local_part(local: str) -> str:
    if not local:
        raise InvalidAddress("the local part (before the @) is empty")
    if local.startswith('"'):
        local = _unquote(local)
    elif "@" in local:
        raise InvalidAddress("the address has more than one @ outside quotes")
    elif any(ch.isspace() for ch in local):
        raise InvalidAddress("the local part contains white space outside quotes")
    elif not _DOT_ATOM.fullmatch(local):
        if local.startswith(".") or local.endswith("."):
            raise InvalidAddress("the local part starts or ends with a dot")
        if ".." in local:
            raise InvalidAddress("the local part has two dots in a row")
        raise InvalidAddress("the local part contains a character not allowed outside quotes")
    size = len(local.encode("utf-8"))
    if size > MAX_LOCAL_OCTETS:
        raise InvalidAddress(
            f"the local part is {size} octets long, over the {MAX_LOCAL_OCTETS} allowed"
        )
    return local


def _unquote(quoted: str) -> str:
    """Unfold a quoted local part. Quotes that were not needed are dropped, so that
    ``"kijitora"@example.com`` and ``kijitora@example.com`` are one address."""
    if len(quoted) < 2 or not quoted.endswith('"'):
        raise InvalidAddress("the local part has an unterminated quote")
    inner, out, escaped = quoted[1:-1], [], False
    for ch in inner:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            raise InvalidAddress("the local part has a quote inside quotes")
        else:
            out.append(ch)
    if escaped:
        raise InvalidAddress("the local part ends with a lone backslash")
    content = "".join(out)
    if not content:
        raise InvalidAddress("the local part (before the @) is empty")
    if _DOT_ATOM.fullmatch(content):
        return content
    escaped_content = content.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped_content}"'


@functools.lru_cache(maxsize=65536)
def normalize_domain(domain: str) -> str:
    """The IDNA A-label of a domain in lower case, or ``InvalidAddress``.

    Cached: a list of millions of addresses has a few thousand domains, and IDNA is slow.
    """
    domain = unicodedata.normalize("NFC", domain).strip()
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain:
        raise InvalidAddress("the domain (after the @) is empty")
    if domain.startswith("["):
        raise InvalidAddress("domain literals ([address]) are not accepted")
    if any(not label for label in domain.split(".")):
        raise InvalidAddress("the domain has an empty label (two dots in a row)")
    lowered = domain.lower()
    if lowered.isascii() and _ASCII_DOMAIN.fullmatch(lowered) and "xn--" not in lowered:
        result = lowered
    else:
        if any(ch.isspace() for ch in domain):
            raise InvalidAddress("the domain contains white space")
        try:
            result = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidAddress(f"the domain has a bad IDNA label ({_idna_reason(exc)})") from None
        except UnicodeError:
            raise InvalidAddress("the domain has a bad IDNA label") from None
    if len(result) > MAX_DOMAIN_OCTETS:
        raise InvalidAddress(
            f"the domain is {len(result)} octets long, over the {MAX_DOMAIN_OCTETS} allowed"
        )
    for label in result.split("."):
        if not label:
            raise InvalidAddress("the domain has an empty label (two dots in a row)")
        if len(label) > MAX_LABEL_OCTETS:
            raise InvalidAddress(
                f"a domain label is {len(label)} octets long, over the {MAX_LABEL_OCTETS} allowed"
            )
    if "." not in result:
        raise InvalidAddress("the domain has no dot (a bare host name is not a mail domain)")
    return result


def _idna_reason(exc: Exception) -> str:
    # idna's messages quote the offending label; keep only the part before any quote, since a
    # domain is not personal but a message should stay short and predictable.
    text = str(exc).split("'")[0].split('"')[0].strip().rstrip(":")
    return text or "invalid label"
