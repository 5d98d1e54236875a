"""Releasing a mailing to a sender: the one path that turns sealed local parts into addresses.

Fail closed, in three steps:

1. ``start``: in one transaction, claim the mailing (draft, or released with a compliance
   override, becomes released) and write the ``mailing:release`` audit entry. If either fails,
   nothing has been decrypted and the release fails.
2. ``recipients``: stream the audience in one query, batch by batch; decrypt each local part and
   drop every address suppressed *now* (globally or for the list), so a suppression added after
   the mailing was created still wins. A row that does not decrypt is skipped and counted.
   Each released recipient carries its one-click unsubscribe link (RFC 8058), a token sealed
   for this subscriber and list, under the configured public URL.
3. ``finish``: a ``mailing:release_report`` audit entry with the counts and key ids.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Select, String, func, select, type_coerce
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from vault.audit import services as audit
from vault.audit.services import Actor
from vault.crypto import KeySuite
from vault.mailings import services as mailings
from vault.mailings.segments import DomainRules
from vault.subscribers.models import Subscriber
from vault.suppressions.models import GLOBAL_SCOPE, Suppression
from vault.unsubscribe.tokens import ONE_CLICK, list_token_maker, unsubscribe_url

if TYPE_CHECKING:
    from vault.store import Vault

DEFAULT_BATCH = 5000
# Digests per suppression query; both SQLite (32766) and PostgreSQL (65535) allow more.
_QUERY_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Recipient:
    """One released recipient, with the values of its two unsubscribe header fields."""

    subscriber_id: uuid.UUID
    address: str
    list_unsubscribe: str  # "<https://…/u/TOKEN>", the List-Unsubscribe field's value
    list_unsubscribe_post: str = ONE_CLICK  # the List-Unsubscribe-Post field's value


def ndjson_line(recipient: Recipient) -> str:
    """The wire form of one recipient and a newline: ``{"subscriber_id": ..., "address": ...,
    "list_unsubscribe": "<https://…/u/…>", "list_unsubscribe_post": "List-Unsubscribe=One-Click"}``
    """
    address = json.dumps(recipient.address, ensure_ascii=False)
    link = json.dumps(recipient.list_unsubscribe)
    post = json.dumps(recipient.list_unsubscribe_post)
    return (
        f'{{"subscriber_id":"{recipient.subscriber_id}","address":{address},'
        f'"list_unsubscribe":{link},"list_unsubscribe_post":{post}}}\n'
    )


@dataclass(frozen=True)
class ReleaseTicket:
    """A claimed release: the mailing is marked released and the start is in the audit log."""

    mailing_id: uuid.UUID
    list_id: uuid.UUID
    rules: DomainRules
    used_override: bool
    release_number: int


@dataclass
class ReleaseReport:
    released: int = 0
    suppressed: int = 0
    undecryptable: int = 0
    address_key_ids: set[int] = field(default_factory=set)
    completed: bool = False
    error: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "suppressed": self.suppressed,
            "undecryptable": self.undecryptable,
            "address_key_ids": [f"{k:08x}" for k in sorted(self.address_key_ids)],
            "completed": self.completed,
            "error": self.error,
        }


def start(store: Vault, *, actor: Actor, mailing_id: uuid.UUID, reason: str) -> ReleaseTicket:
    """Claim the mailing and audit the release in one transaction (step 1)."""
    with store.write() as session:
        mailing, used_override = mailings.claim_release(
            session, mailing_id=mailing_id, now=store.now()
        )
        audit.record(
            session,
            keyring=store.keyring,
            actor=actor,
            tag="mailing:release",
            subject=f"mailing:{mailing.id}",
            details={
                "list_id": str(mailing.list_id),
                "reason": reason,
                "release": mailing.releases,
                "override_used": used_override,
                "include_domains": list(mailing.include_domains),
                "exclude_domains": list(mailing.exclude_domains),
                "suppression_key_ids": [f"{k:08x}" for k in store.keys.suppression.key_ids],
            },
            now=store.now(),
        )
        return ReleaseTicket(
            mailing.id, mailing.list_id, mailings.rules_of(mailing), used_override, mailing.releases
        )


def recipients(
    store: Vault,
    ticket: ReleaseTicket,
    report: ReleaseReport,
    *,
    public_url: str,
    batch_size: int = DEFAULT_BATCH,
) -> Iterator[list[Recipient]]:
    """The unsuppressed recipients, one list per batch (step 2). Updates ``report``.

    ``public_url`` is where recipients reach ``/u/{token}`` (``Settings.public_base_url()``);
    a URL that is not https (or http on a loopback address) raises ``ConfigError`` at once.
    """
    link = "<" + unsubscribe_url(public_url, "")
    for hex_ids, addresses, tokens in _batches(store, ticket, report, batch_size=batch_size):
        yield [
            Recipient(uuid.UUID(hex=hex_id), address, f"{link}{token}>")
            for hex_id, address, token in zip(hex_ids, addresses, tokens, strict=True)
        ]


def ndjson_blocks(
    store: Vault,
    ticket: ReleaseTicket,
    report: ReleaseReport,
    *,
    public_url: str,
    batch_size: int = DEFAULT_BATCH,
) -> Generator[bytes, None, None]:
    """``recipients`` in wire form: one block of NDJSON lines (``ndjson_line``'s) per batch.

    The lines are formatted directly, without a ``Recipient`` or a ``json.dumps`` per line:
    ids and tokens never need escaping (hex digits, base64url) and the link prefix is escaped
    once; addresses need none unless they hold a quote, a backslash or a control character,
    which only a quoted local part can (``vault.addresses``), and a batch with one is escaped
    with ``json.dumps`` as ``ndjson_line`` does. The output is the same bytes either way.
    """
    link = json.dumps("<" + unsubscribe_url(public_url, ""))[1:-1]
    for hex_ids, addresses, tokens in _batches(store, ticket, report, batch_size=batch_size):
        if _JSON_SPECIAL.search("".join(addresses)):
            addresses = [json.dumps(a, ensure_ascii=False)[1:-1] for a in addresses]
        lines = [
            f'{{"subscriber_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",'
            f'"address":"{address}","list_unsubscribe":"{link}{token}>",'
            f'"list_unsubscribe_post":"{ONE_CLICK}"}}\n'
            for h, address, token in zip(hex_ids, addresses, tokens, strict=True)
        ]
        yield "".join(lines).encode("utf-8")


# What ``json.dumps(..., ensure_ascii=False)`` escapes in a string.
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f]')


def _batches(
    store: Vault, ticket: ReleaseTicket, report: ReleaseReport, *, batch_size: int
) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """(subscriber ids as 32 hex digits, addresses, unsubscribe tokens) of the unsuppressed
    recipients, batch by batch, in no particular order. Updates ``report``.

    One query streams the whole audience (a server-side cursor on PostgreSQL); ids come as hex
    text, never as ``uuid.UUID``. Suppressions are read per batch in a short transaction of
    their own, so one added while the release streams still applies to the rest of it.

    The audience query's read transaction lasts as long as the release, including the time a
    slow consumer takes: SQLite cannot checkpoint its WAL past it meanwhile, and PostgreSQL's
    vacuum waits for it. At release speed that is seconds for 100 000 recipients.
    """
    keys = store.keys  # one key suite for the whole release, even if the keyring is reloaded
    make_tokens = list_token_maker(keys, list_id=ticket.list_id)
    scopes = [GLOBAL_SCOPE, str(ticket.list_id)]
    with store.read() as session:
        connection = session.connection()
        statement = _audience_rows(connection.dialect.name, ticket)
        batches: Iterator[Sequence[tuple[str, str, bytes]]]
        if connection.dialect.name == "sqlite":
            # pysqlite hands rows over as they are read, so its cursor is read directly: a
            # SQLAlchemy Row per recipient cost a tenth of the release.
            result = connection.execute(statement)
            batches = iter(functools.partial(result.cursor.fetchmany, batch_size), [])
        else:  # a server-side cursor, whose first row SQLAlchemy has already fetched
            result = connection.execution_options(yield_per=batch_size).execute(statement)
            batches = result.partitions()
        # Closed on every way out (an error, a client gone) before its transaction ends: a
        # PostgreSQL server-side cursor left to the garbage collector complains.
        with closing(result):
            for rows in batches:
                hex_ids, raw_ids, addresses = _open_and_check(
                    store, rows, report, keys=keys, scopes=scopes
                )
                report.released += len(addresses)
                yield hex_ids, addresses, make_tokens(raw_ids)


def _open_and_check(
    store: Vault,
    rows: Sequence[tuple[str, str, bytes]],
    report: ReleaseReport,
    *,
    keys: KeySuite,
    scopes: Sequence[str],
) -> tuple[list[str], list[bytes], list[str]]:
    """(hex ids, raw ids, addresses) of the rows that open and are not suppressed now."""
    hex_ids, domains, sealed = zip(*rows, strict=True)
    raw_ids: Sequence[bytes] = list(map(bytes.fromhex, hex_ids))
    local_parts: Sequence[str | None] = keys.cipher.open_rows(
        zip(raw_ids, domains, sealed, strict=True), key_ids=report.address_key_ids
    )
    if None in local_parts:
        keep = [local is not None for local in local_parts]
        report.undecryptable += keep.count(False)
        hex_ids, raw_ids, domains, local_parts = _kept(keep, hex_ids, raw_ids, domains, local_parts)
    opened = cast(Sequence[str], local_parts)
    canonicals = [
        f"{local.lower()}@{domain}" for local, domain in zip(opened, domains, strict=True)
    ]
    with store.read() as session:
        flags = suppressed(
            session, keys=keys, canonicals=canonicals, scopes=scopes, now=store.now()
        )
    if any(flags):
        keep = [not hit for hit in flags]
        report.suppressed += keep.count(False)
        hex_ids, raw_ids, domains, opened = _kept(keep, hex_ids, raw_ids, domains, opened)
    addresses = [f"{local}@{domain}" for local, domain in zip(opened, domains, strict=True)]
    return list(hex_ids), list(raw_ids), addresses


def _kept(keep: list[bool], *columns: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Each column without the rows ``keep`` marks False."""
    return [tuple(compress(column, keep)) for column in columns]


def _audience_rows(dialect: str, ticket: ReleaseTicket) -> Select[str, str, bytes]:
    """(id as 32 hex digits, domain, sealed local part) of the mailing's audience.

    Unordered: ids are random, so id order meant nothing to a sender, and sorting the whole
    audience (SQLite) cost as much per row as reading it.
    """
    hex_id: ColumnElement[str]
    if dialect == "postgresql":
        hex_id = func.replace(cast_(Subscriber.id, String), "-", "", type_=String)
    else:  # SQLite, where the Uuid type stores the 32 hex digits
        hex_id = type_coerce(Subscriber.id, String)
    return select(hex_id, Subscriber.domain, Subscriber.sealed_local_part).where(
        mailings.audience(ticket.list_id, ticket.rules)
    )


def suppressed(
    session: Session,
    *,
    keys: KeySuite,
    canonicals: Sequence[str],
    scopes: Sequence[str],
    now: datetime,
) -> list[bool]:
    """For each canonical address: is it suppressed now in one of the two scopes (global and
    the list's)?

    The bulk form of ``suppressions.services.check_many`` that only answers yes or no, which
    lets it fetch one column instead of whole rows.
    """
    global_scope, list_scope = scopes
    functions = [keys.suppression.function(key_id) for key_id in keys.suppression.key_ids]
    messages = [c.encode("utf-8") for c in canonicals]
    per_key = [list(map(fn, messages)) for fn in functions]
    digests = [d for ds in per_key for d in ds]
    connection = session.connection()
    dialect = connection.dialect
    expiry = Suppression.__table__.c.expires_at.type.bind_processor(dialect)
    tail = (global_scope, list_scope, expiry(now) if expiry is not None else now)
    hits: set[bytes] = set()
    for begin in range(0, len(digests), _QUERY_CHUNK):
        chunk = digests[begin : begin + _QUERY_CHUNK]
        query = _suppressed_sql(dialect.paramstyle, len(chunk))
        hits.update(row[0] for row in connection.exec_driver_sql(query, (*chunk, *tail)))
    if not hits:
        return [False] * len(canonicals)
    flags = [d in hits for d in per_key[0]]
    for ds in per_key[1:]:
        flags = [flag or d in hits for flag, d in zip(flags, ds, strict=True)]
    return flags


@functools.lru_cache(maxsize=16)
def _suppressed_sql(paramstyle: str, size: int) -> str:
    """The digests among ``size`` given ones suppressed now in one of two scopes.

    Plain SQL to the driver, like ``vault.db.bulk``: through SQLAlchemy, the ``IN`` list of
    digests is rendered anew and each digest converted at every execution, which cost more
    than the query itself. Parameters: the digests (bytes), the two scopes, then ``now`` as
    the ``expires_at`` column stores it.
    """
    mark = "?" if paramstyle == "qmark" else "%s"
    digests = ", ".join([mark] * size)
    return (
        f"SELECT digest FROM suppressions WHERE digest IN ({digests}) "  # noqa: S608 - fixed names
        f"AND scope IN ({mark}, {mark}) AND (expires_at IS NULL OR expires_at > {mark})"
    )


def finish(store: Vault, *, actor: Actor, ticket: ReleaseTicket, report: ReleaseReport) -> None:
    """The closing audit entry with the counts (step 3)."""
    with store.write() as session:
        audit.record(
            session,
            keyring=store.keyring,
            actor=actor,
            tag="mailing:release_report",
            subject=f"mailing:{ticket.mailing_id}",
            details={"release": ticket.release_number, **report.details()},
            now=store.now(),
        )


def summary_line(report: ReleaseReport) -> str:
    """The last line of a complete release; a stream without it was cut short."""
    counts = {
        "released": report.released,
        "suppressed": report.suppressed,
        "undecryptable": report.undecryptable,
    }
    return json.dumps({"summary": counts}, separators=(",", ":")) + "\n"
