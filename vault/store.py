"""The store as one object: settings, database, keyring and clock, with the operations the CLI,
the HTTP API and embedding pipelines share. Every state change is audited in its own transaction.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from vault.addresses import Address, parse_address
from vault.audit import services as audit
from vault.audit.services import Actor, ChainReport
from vault.clock import Clock, SystemClock
from vault.config import Settings
from vault.crypto import Kek, Keyring, KeySuite, open_keyring
from vault.db import make_engine, make_sessionmaker
from vault.db.migrate import require_current
from vault.errors import ConfigError
from vault.subscribers import importer
from vault.subscribers import services as subscribers
from vault.subscribers.models import ConsentMethod, MailingList
from vault.subscribers.subject_access import subject_access
from vault.suppressions import services as suppressions
from vault.suppressions.models import GLOBAL_SCOPE, SuppressionReason
from vault.suppressions.services import CheckResult
from vault.suppressions.snapshot import SuppressionSnapshot, load_snapshot


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


@dataclass(frozen=True)
class CheckAnswer:
    """A check result for one input, with the scope named for people (``global`` or a list name)."""

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
            )
            return outcome

    def check(self, addresses: Iterable[str], *, list_name: str | None = None) -> list[CheckAnswer]:
        """Check a batch of raw addresses; invalid ones get an answer naming the problem."""
        with self.read() as session:
            list_id = self._list_id(session, list_name)
            raw = list(addresses)
            parsed: list[Address | None] = []
            errors: list[str | None] = []
            for item in raw:
                try:
                    parsed.append(parse_address(item))
                    errors.append(None)
                except ValueError as exc:
                    parsed.append(None)
                    errors.append(str(exc))
            valid = [p.canonical for p in parsed if p is not None]
            results = iter(
                suppressions.check_many(
                    session, keys=self.keys, canonicals=valid, list_id=list_id, now=self.now()
                )
            )
            answers: list[CheckAnswer] = []
            for item, address, error in zip(raw, parsed, errors, strict=True):
                if address is None:
                    answers.append(CheckAnswer(item, False, None, None, error=error))
                    continue
                result: CheckResult = next(results)
                answers.append(
                    CheckAnswer(
                        item,
                        result.suppressed,
                        result.reason,
                        self._scope_name(result.scope, list_name),
                        result.expires_at,
                    )
                )
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
        digests = self.keys.suppression.digests
        for raw in addresses:
            try:
                address = parse_address(raw)
            except ValueError as exc:
                yield CheckAnswer(raw, False, None, None, error=str(exc))
                continue
            match = snapshot.best(digests(address.canonical), scope_ids)
            if match is None:
                yield CheckAnswer(raw, False, None, None)
            else:
                yield CheckAnswer(raw, True, match[0], self._scope_name(match[1], list_name))

    @staticmethod
    def _scope_name(scope: str | None, list_name: str | None) -> str | None:
        if scope is None or scope == GLOBAL_SCOPE:
            return scope
        return f"list:{list_name}" if list_name else f"list:{scope}"

    # -- audit --------------------------------------------------------------------------------
    def verify_audit(self) -> ChainReport:
        with self.read() as session:
            return audit.verify_chain(session, keyring=self.keyring)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
