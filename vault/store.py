"""The store as one object: settings, database, keyring and clock, with the operations the CLI,
the HTTP API and embedding pipelines share. Every state change is audited in its own transaction.
"""

from __future__ import annotations

import copy
import dataclasses
import getpass
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from vault.addresses import Address, canonical_address, parse_address
from vault.audit import services as audit
from vault.audit.services import Actor, ChainReport
from vault.clock import Clock, SystemClock
from vault.config import Settings
from vault.crypto import Kek, Keyring, KeySuite, open_keyring
from vault.db import make_engine, make_sessionmaker
from vault.db.migrate import require_current
from vault.deliveries import ingest as deliveries_ingest
from vault.deliveries import services as deliveries
from vault.deliveries.events import DeliveryEvent, parse_event
from vault.deliveries.models import Taken
from vault.deliveries.reports import report_from_event
from vault.errors import ConfigError
from vault.subscribers import importer
from vault.subscribers import services as subscribers
from vault.subscribers.models import ConsentMethod, MailingList
from vault.subscribers.subject_access import subject_access
from vault.suppressions import services as suppressions
from vault.suppressions.models import GLOBAL_SCOPE, SuppressionReason
from vault.suppressions.rehash import rehash_after_read
from vault.suppressions.services import NOT_SUPPRESSED
from vault.suppressions.snapshot import SuppressionSnapshot, load_snapshot
from vault.unsubscribe import services as unsubscribing
from vault.unsubscribe import tokens


def kek_from_settings(settings: Settings) -> Kek:
    if settings.kek_file is not None:
        return Kek(file=settings.kek_file)
    if settings.kek_passphrase is not None:
        return Kek(passphrase=settings.kek_passphrase)
    raise ConfigError(
        "no key-encryption key: set MAILVAULT_KEK_PASSPHRASE or MAILVAULT_KEK_FILE "
        "(or use --demo for the example keys)"
    )


def open_keyring_from_settings(settings: Settings) -> Keyring:
    return open_keyring(settings.keys_dir, kek_from_settings(settings), allow_demo=settings.demo)


class CheckAnswer(NamedTuple):
    """A check result for one input, with the scope named for people (``global`` or a list name).

    A named tuple: batch checks make one per address, millions at a time.
    """

    address: str
    suppressed: bool
    reason: str | None
    scope: str | None
    expires_at: datetime | None = None
    error: str | None = None


class Vault:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        keyring: Keyring,
        clock: Clock | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.actor = actor or Actor.cli(_user())
        self._reader = make_sessionmaker(engine)
        self._writer = make_sessionmaker(engine, write=True)
        self.keyring = keyring
        self.keys = KeySuite.from_keyring(keyring)

    @classmethod
    def open(
        cls, settings: Settings, *, clock: Clock | None = None, check_schema: bool = True
    ) -> Vault:
        keyring = open_keyring_from_settings(settings)
        engine = make_engine(settings.database_url)
        if check_schema:
            require_current(engine)
        return cls(settings=settings, engine=engine, keyring=keyring, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return self.clock.now()

    def acting_as(self, actor: Actor) -> Vault:
        """This store auditing under another actor (an API principal). Shares engine and keys."""
        clone = copy.copy(self)
        clone.actor = actor
        return clone

    def use_keyring(self, keyring: Keyring) -> None:
        """Switch to a changed keyring (after a rotation) without reopening the store."""
        self.keyring = keyring
        self.keys = KeySuite.from_keyring(keyring)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._writer() as session, session.begin():
            yield session

    @property
    def session_factory(self) -> Callable[[], Session]:
        return self._writer

    def _audit(self, session: Session, *, tag: str, subject: str, **details: object) -> None:
        audit.record(
            session,
            keyring=self.keyring,
            actor=self.actor,
            tag=tag,
            subject=subject,
            details=dict(details),
            now=self.now(),
        )

    # -- lists --------------------------------------------------------------------------------
    def create_list(self, name: str) -> MailingList:
        with self.write() as session:
            created = subscribers.create_list(session, name=name, now=self.now())
            self._audit(session, tag="list:create", subject=f"list:{created.id}")
            return created

    def get_list(self, name: str) -> MailingList:
        with self.read() as session:
            return subscribers.get_list(session, name)

    def lists(self) -> list[MailingList]:
        with self.read() as session:
            return subscribers.all_lists(session)

    def _list_id(self, session: Session, name: str | None) -> uuid.UUID | None:
        return None if name is None else subscribers.get_list(session, name).id

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(
        self, address: str, *, list_name: str, consent: ConsentMethod, source: str
    ) -> subscribers.SubscribeResult:
        parsed = parse_address(address)
        with self.write() as session:
            mailing_list = subscribers.get_list(session, list_name)
            result = subscribers.subscribe(
                session,
                keys=self.keys,
                mailing_list=mailing_list,
                address=parsed,
                consent=consent,
                source=source,
                now=self.now(),
            )
            if result.outcome != subscribers.SubscribeOutcome.DUPLICATE:
                self._audit(
                    session,
                    tag=f"subscriber:{result.outcome}",
                    subject=f"subscriber:{result.subscriber_id}"
                    if result.subscriber_id
                    else f"list:{mailing_list.id}",
                    list_id=str(mailing_list.id),
                    consent=str(consent),
                    domain=parsed.domain,
                    suppressions_lifted=result.lifted,
                )
            return result

    def unsubscribe(self, address: str, *, list_name: str, source: str) -> bool:
        parsed = parse_address(address)
        with self.write() as session:
            mailing_list = subscribers.get_list(session, list_name)
            changed = subscribers.unsubscribe(
                session,
                keys=self.keys,
                mailing_list=mailing_list,
                address=parsed,
                source=source,
                now=self.now(),
            )
            self._audit(
                session,
                tag="subscriber:unsubscribe",
                subject=f"list:{mailing_list.id}",
                domain=parsed.domain,
                subscriber_found=changed,
            )
            return changed

    def erase(self, address: str, *, source: str) -> subscribers.ErasureResult:
        parsed = parse_address(address)
        with self.write() as session:
            found = subscribers.find_everywhere(session, keys=self.keys, canonical=parsed.canonical)
            outcomes_removed = deliveries.forget(
                session,
                keys=self.keys,
                canonical=parsed.canonical,
                subscriber_ids=[s.id for s in found],
            )
            result = subscribers.erase(
                session, keys=self.keys, address=parsed, source=source, now=self.now()
            )
            self._audit(
                session,
                tag="subject:erase",
                subject=f"domain:{parsed.domain}",
                subscribers_removed=result.subscribers_removed,
                lists=result.lists,
                suppression_key_id=self.keys.suppression.primary_key_id,
                delivery_outcomes_removed=outcomes_removed,
            )
            return result

    def subject_access(self, address: str) -> dict[str, object]:
        """Everything held about one address (compliance); audited by domain, not address."""
        parsed = parse_address(address)
        with self.write() as session:
            answer = subject_access(
                session, keys=self.keys, address=parsed, given=address, now=self.now()
            )
            self._audit(
                session,
                tag="subject:access",
                subject=f"domain:{parsed.domain}",
                subscriptions=len(answer["subscriptions"]),
                suppressions=len(answer["suppressions"]),
                delivery_outcomes=sum(
                    s["delivery_outcomes"]["count"] for s in answer["subscriptions"]
                ),
                bounce_state=answer["bounce_state"]["held"],
            )
            return answer

    def domain_counts(self, *, list_name: str | None = None) -> list[tuple[str, int]]:
        with self.read() as session:
            return subscribers.domain_counts(session, list_id=self._list_id(session, list_name))

    def import_csv(
        self,
        path: Path,
        *,
        list_name: str,
        consent: ConsentMethod,
        source: str,
        rejects_path: Path | None = None,
        batch_size: int = importer.DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> importer.ImportSummary:
        mailing_list = self.get_list(list_name)
        summary = importer.import_csv(
            self._writer,
            keys=self.keys,
            path=path,
            mailing_list=mailing_list,
            consent=consent,
            source=source,
            now=self.now,
            rejects_path=rejects_path,
            batch_size=batch_size,
            progress=progress,
        )
        with self.write() as session:
            self._audit(
                session,
                tag="subscriber:import",
                subject=f"import:{summary.run_id}",
                list_id=str(mailing_list.id),
                imported=summary.imported,
                duplicates=summary.duplicates,
                suppressed=summary.suppressed,
                invalid=summary.invalid,
                address_key_id=self.keys.cipher.primary_key_id(),
            )
        return summary

    # -- suppressions -------------------------------------------------------------------------
    def suppress(
        self,
        addresses: Sequence[Address],
        *,
        reason: SuppressionReason,
        source: str,
        list_name: str | None = None,
        expires_at: datetime | None = None,
    ) -> suppressions.SuppressOutcome:
        """Suppress one batch of parsed addresses in one transaction, audited by count."""
        with self.write() as session:
            list_id = self._list_id(session, list_name)
            outcome = suppressions.suppress_many(
                session,
                keys=self.keys,
                addresses=addresses,
                reason=reason,
                source=source,
                list_id=list_id,
                expires_at=expires_at,
                now=self.now(),
            )
            self._audit(
                session,
                tag="suppression:add",
                subject=f"scope:{suppressions.scope_of(list_id)}",
                reason=str(reason),
                added=outcome.added,
                already=outcome.already,
                key_id=self.keys.suppression.primary_key_id,
                **({"rehashed": outcome.rehashed} if outcome.rehashed else {}),
            )
            return outcome

    def check(self, addresses: Iterable[str], *, list_name: str | None = None) -> list[CheckAnswer]:
        """Check a batch of raw addresses; invalid ones get an answer naming the problem.

        The hottest read of all (every API check): one bare connection, no ORM session. An
        address found under an older suppression key is rehashed on sight afterwards, in a short
        write of its own that cannot change (or delay much) the answer.
        """
        keys = self.keys  # one keyring for the whole batch, even if a reload swaps it meanwhile
        raw = list(addresses)
        canonicals: list[str] = []
        errors: dict[int, str] = {}
        for index, item in enumerate(raw):
            try:
                canonicals.append(canonical_address(item))
            except ValueError as exc:
                errors[index] = str(exc)
        with self.engine.connect() as connection:
            list_id = (
                None if list_name is None else subscribers.list_id_by_name(connection, list_name)
            )
            results = suppressions.check_many(
                connection, keys=keys, canonicals=canonicals, list_id=list_id, now=self.now()
            )
        checked = zip(canonicals, results, strict=True)
        seen_stale: list[str] = []
        answers: list[CheckAnswer] = []
        append = answers.append
        for index, item in enumerate(raw):
            if errors and index in errors:
                append(CheckAnswer(item, False, None, None, error=errors[index]))
                continue
            canonical, result = next(checked)
            if result is NOT_SUPPRESSED:
                append(CheckAnswer(item, False, None, None))
                continue
            if result.stale:
                seen_stale.append(canonical)
            scope = self._scope_name(result.scope, list_name)
            append(CheckAnswer(item, result.suppressed, result.reason, scope, result.expires_at))
        if seen_stale:
            rehash_after_read(self.engine, keys=keys, canonicals=seen_stale)
        return answers

    def load_snapshot(self) -> SuppressionSnapshot:
        """Every active suppression entry in memory, for checking millions of addresses."""
        with self.read() as session:
            return load_snapshot(session, now=self.now())

    def check_against(
        self, snapshot: SuppressionSnapshot, addresses: Iterable[str], *, list_name: str | None
    ) -> Iterator[CheckAnswer]:
        """Check raw addresses against a snapshot: the streaming path for very large inputs."""
        list_id: uuid.UUID | None = None
        if list_name is not None:
            list_id = self.get_list(list_name).id
        scope_ids = snapshot.scope_ids(
            [GLOBAL_SCOPE] if list_id is None else [GLOBAL_SCOPE, str(list_id)]
        )
        digester = self.keys.suppression
        functions = [digester.function(key_id) for key_id in digester.key_ids]
        best = snapshot.best
        for raw in addresses:
            try:
                message = canonical_address(raw).encode("utf-8")
            except ValueError as exc:
                yield CheckAnswer(raw, False, None, None, error=str(exc))
                continue
            if len(functions) == 1:  # the common case, without a list per address
                match = best((functions[0](message),), scope_ids)
            else:
                match = best([digest(message) for digest in functions], scope_ids)
            if match is None:
                yield CheckAnswer(raw, False, None, None)
            else:
                yield CheckAnswer(raw, True, match[0], self._scope_name(match[1], list_name))

    @staticmethod
    def _scope_name(scope: str | None, list_name: str | None) -> str | None:
        if scope is None or scope == GLOBAL_SCOPE:
            return scope
        return f"list:{list_name}" if list_name else f"list:{scope}"

    # -- bounces, complaints and delivery events ------------------------------------------------
    def bounce_policy(self) -> deliveries.BouncePolicy:
        return deliveries.BouncePolicy.from_sections(self.settings.sections)

    def ingest(
        self,
        messages: Iterable[bytes],
        *,
        origin: str = "cli",
        list_name: str | None = None,
        batch_size: int = deliveries_ingest.DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
        workers: int = 1,
    ) -> deliveries_ingest.IngestSummary:
        """Apply every bounce, complaint and success report in a stream of raw messages
        (``vault.bounces.iter_messages``, or ``[body]`` for one message/rfc822 request body).

        Each batch is applied and audited (``delivery:ingest``, counts only) in one
        transaction; unreadable messages are counted and listed by position, never fatal.
        ``workers`` above 1 parses in that many processes, with the same outcome; should one
        die, what came before is stored and ``ParserStopped`` says where the run stopped.
        """
        policy = self.bounce_policy()
        list_id = self._list_id_or_none(list_name)

        def audit_batch(session: Session, details: dict[str, object]) -> None:
            self._audit(
                session,
                tag="delivery:ingest",
                subject=f"ingest:{details['run_id']}",
                origin=origin,
                **{k: v for k, v in details.items() if k != "run_id"},
            )

        return deliveries_ingest.ingest_messages(
            self.write,
            keys=self.keys,
            messages=messages,
            policy=policy,
            now=self.now,
            audit_batch=audit_batch,
            list_id=list_id,
            batch_size=batch_size,
            progress=progress,
            workers=workers,
        )

    def record_event(self, event: DeliveryEvent | object) -> deliveries.Decision:
        """Apply one delivery event: a ``DeliveryEvent`` (``parse_event_json(body)``) or decoded
        JSON (see ``vault.deliveries.events``).

        ``InputError`` names a malformed field (HTTP 422); ``NotFound`` an unknown list. A
        success that had nothing to reset, and an ignored event, write nothing at all.
        """
        parsed = event if isinstance(event, DeliveryEvent) else parse_event(event)
        now = self.now()
        report = report_from_event(parsed, now=now)
        with self.write() as session:
            if parsed.list is not None:
                report = dataclasses.replace(
                    report, list_id=self._list_by_name_or_id(session, parsed.list)
                )
            decisions, tally = deliveries.record_reports(
                session, keys=self.keys, reports=[report], policy=self.bounce_policy(), now=now
            )
            decision = decisions[0]
            if decision.taken is not Taken.IGNORED:
                self._audit(
                    session,
                    tag="delivery:event",
                    subject=f"outcome:{decision.outcome_id}"
                    if decision.outcome_id
                    else f"domain:{report.address.domain}",
                    type=str(parsed.type),
                    action=str(decision.action),
                    taken=str(decision.taken),
                    suppression=str(decision.suppression) if decision.suppression else None,
                    suppressions_added=sum(tally.suppressions_added.values()),
                )
            return decision

    def _list_id_or_none(self, name: str | None) -> uuid.UUID | None:
        if name is None:
            return None
        with self.read() as session:
            return self._list_by_name_or_id(session, name)

    @staticmethod
    def _list_by_name_or_id(session: Session, name: str) -> uuid.UUID:
        try:
            wanted = uuid.UUID(name)
        except ValueError:
            return subscribers.get_list(session, name).id
        found = session.get(MailingList, wanted)
        return found.id if found is not None else subscribers.get_list(session, name).id

    # -- one-click unsubscribe ------------------------------------------------------------------
    def unsubscribe_token(self, *, subscriber_id: uuid.UUID, list_id: uuid.UUID) -> str:
        """The opaque token for a subscriber's ``List-Unsubscribe`` URL on one list."""
        return tokens.create_token(self.keys, subscriber_id=subscriber_id, list_id=list_id)

    def verify_unsubscribe_token(self, token: str) -> None:
        """Raise ``InvalidToken`` (HTTP 404) unless the token verifies; reads no database."""
        tokens.verify_token(self.keys, token)

    def unsubscribe_by_token(self, token: str) -> unsubscribing.UnsubscribeResult:
        """``POST /u/{token}``: unsubscribe at once, idempotently, audited in the same
        transaction. ``InvalidToken`` (HTTP 404) changes nothing."""
        with self.write() as session:
            return unsubscribing.unsubscribe_by_token(
                session, keys=self.keys, token=token, now=self.now()
            )

    # -- audit --------------------------------------------------------------------------------
    def verify_audit(self) -> ChainReport:
        with self.read() as session:
            return audit.verify_chain(session, keyring=self.keyring)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
