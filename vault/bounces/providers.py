"""Consumer mailbox providers: domains where a hard bounce reliably means the mailbox is gone.

Corporate domains sit behind filters that send false hard bounces, so SPEC §5 confirms those
before suppressing; for the domains listed here one x.1.1/x.1.2 bounce is enough.

A pattern ``name.*`` matches ``name`` under any public suffix (``hotmail.co.uk``, ``yahoo.co.jp``).
Subdomains are not included: ``mail.gmail.com`` is not a mailbox domain, and a corporate
``gmail.example.com`` must not be mistaken for Gmail.
"""

from __future__ import annotations

from vault.addresses import normalize_domain
from vault.errors import InvalidAddress

#: The shipped table; sorted so that a reviewer can spot duplicates and omissions.
CONSUMER_PROVIDERS: tuple[str, ...] = (
    "126.com",
    "139.com",
    "163.com",
    "aim.com",
    "alice.it",
    "aol.*",
    "att.net",
    "bigpond.com",
    "bluewin.ch",
    "bol.com.br",
    "btinternet.com",
    "comcast.net",
    "cox.net",
    "daum.net",
    "docomo.ne.jp",
    "earthlink.net",
    "email.it",
    "ezweb.ne.jp",
    "fastmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.*",
    "googlemail.com",
    "hanmail.net",
    "hotmail.*",
    "hushmail.com",
    "i.softbank.jp",
    "icloud.com",
    "inbox.ru",
    "interia.pl",
    "juno.com",
    "laposte.net",
    "libero.it",
    "list.ru",
    "live.*",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "netscape.net",
    "o2.pl",
    "onet.pl",
    "orange.fr",
    "outlook.*",
    "pm.me",
    "proton.me",
    "protonmail.*",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "shaw.ca",
    "sky.com",
    "t-online.de",
    "tiscali.it",
    "tuta.io",
    "tutanota.com",
    "uol.com.br",
    "verizon.net",
    "virgilio.it",
    "wanadoo.fr",
    "web.de",
    "windowslive.com",
    "wp.pl",
    "ya.ru",
    "yahoo.*",
    "yandex.*",
    "ymail.com",
    "zoho.com",
    "zohomail.com",
)

# Suffixes a "name.*" entry may take: generic ones plus country codes with their usual
# second-level labels. A list of registries' suffixes would be more complete but is a moving
# data set; these cover where the listed brands actually operate.
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ne", "or"})


def _split(entries: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    exact = frozenset(e for e in entries if not e.endswith(".*"))
    brands = frozenset(e[:-2] for e in entries if e.endswith(".*"))
    return exact, brands


_EXACT, _BRANDS = _split(CONSUMER_PROVIDERS)


def is_consumer_provider(domain: str) -> bool:
    """Whether ``domain`` (any case, Unicode or A-label) is a listed consumer mailbox provider."""
    try:
        name = normalize_domain(domain)
    except InvalidAddress:
        return False
    if name in _EXACT:
        return True
    brand, _, suffix = name.partition(".")
    if brand not in _BRANDS or not suffix:
        return False
    labels = suffix.split(".")
    if len(labels) == 1:
        return labels[0].isalpha()
    # "co.uk", "com.br", "ne.jp": one known second-level label, then a country code.
    return len(labels) == 2 and labels[0] in _SECOND_LEVEL and len(labels[1]) == 2
