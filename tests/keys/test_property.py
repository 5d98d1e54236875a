"""The issue's promise as a property: no interleaving of suppress, check, rotate, rewrap, rehash on
sight and retire (without --drop-entries) changes what ``check`` answers for any address."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.conftest import TEST_PASSPHRASE
from vault.addresses import parse_address
from vault.audit.models import AuditEntry
from vault.config import Settings
from vault.crypto import Kek, KeyStatus, Purpose, open_keyring
from vault.errors import Conflict
from vault.keys import services
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, MailingList, Subscriber
from vault.suppressions.models import REASON_PRECEDENCE, Suppression, SuppressionReason
from vault.suppressions.services import check_many

# Several spellings of few addresses, so that operations keep meeting the same entries.
SPELLINGS = [
    ["a@example.com", "A@Example.COM"],
    ["b.c@example.org", "B.C@EXAMPLE.ORG"],
    ["zoë@bücher.example", "Zoë@BÜCHER.example"],
    ["d@example.net"],
    ["e@example.net"],
]
REASONS = [
    SuppressionReason.COMPLAINT,
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.UNSUBSCRIBE,
    SuppressionReason.MANUAL,
]
ROTATABLE = [Purpose.SUPPRESSION, Purpose.SUPPRESSION, Purpose.INDEX, Purpose.ADDRESS]

who = st.integers(0, len(SPELLINGS) - 1)
spelling = st.integers(0, 1)
suppress_step = st.tuples(st.just("suppress"), who, spelling, st.sampled_from(REASONS))
check_step = st.tuples(st.just("check"), who, spelling)
operations = st.tuples(
    # Some entries first, so that rotations have something to leave behind...
    st.lists(suppress_step, min_size=1, max_size=4),
    # ... then anything, in any order.
    st.lists(
        st.one_of(
            suppress_step,
            check_step,
            check_step,
            st.tuples(st.just("subscribe"), who, spelling),
            st.tuples(st.just("rotate"), st.sampled_from(ROTATABLE)),
            st.tuples(st.just("rotate"), st.just(Purpose.SUPPRESSION)),
            st.tuples(st.just("rewrap"), st.integers(1, 3)),
            st.tuples(st.just("retire"), st.sampled_from(ROTATABLE)),
            st.tuples(st.just("retire"), st.just(Purpose.SUPPRESSION)),
        ),
        min_size=1,
        max_size=24,
    ),
).map(lambda parts: [*parts[0], *parts[1]])


_PRISTINE: dict[Path, bytes] = {}  # the keyring as the fixture made it, per test run


def _raw(person: int, form: int) -> str:
    forms = SPELLINGS[person]
    return forms[form % len(forms)]


def _reset(store: Vault, keys_dir: Path, pristine: bytes) -> None:
    """Each example starts from an empty store and the original one-key-per-purpose keyring."""
    with store.write() as session:
        for table in (Subscriber, MailingList, Suppression, AuditEntry):
            session.execute(delete(table))
    (keys_dir / "keyring.json").write_bytes(pristine)
    store.use_keyring(open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False))
    store.create_list("news")


def _expected(model: dict[int, set[SuppressionReason]]) -> list[tuple[bool, str | None]]:
    answers = []
    for person in range(len(SPELLINGS)):
        reasons = model[person]
        best = min(reasons, key=REASON_PRECEDENCE.index) if reasons else None
        answers.extend([(bool(reasons), str(best) if best else None)] * 2)
    return answers


def _observed(store: Vault) -> list[tuple[bool, str | None]]:
    """Every address's answer, read without rehashing on sight (which ``store.check`` would do,
    hiding entries left under old keys from the operations that follow)."""
    canonicals = [
        parse_address(_raw(p, f)).canonical for p in range(len(SPELLINGS)) for f in (0, 1)
    ]
    with store.read() as session:
        results = check_many(
            session, keys=store.keys, canonicals=canonicals, list_id=None, now=store.now()
        )
    return [(r.suppressed, r.reason) for r in results]


def _retire_oldest(store: Vault, purpose: Purpose) -> None:
    candidates = [
        k
        for k in store.keyring.entries(purpose)
        if k.status == KeyStatus.ACTIVE and k.list_id is None
    ]
    if not candidates:
        return
    try:
        services.retire(store, purpose=purpose, version=candidates[0].version)
        event(f"retired a {purpose} key")
    except Conflict:
        event(f"refused to retire a {purpose} key in use")


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
@example(  # the path the issue worries about, spelled out
    steps=[
        ("suppress", 0, 0, SuppressionReason.COMPLAINT),
        ("suppress", 2, 1, SuppressionReason.UNSUBSCRIBE),
        ("subscribe", 3, 0),
        ("rotate", Purpose.SUPPRESSION),
        ("retire", Purpose.SUPPRESSION),  # refused: two entries on v1
        ("check", 0, 1),  # rehash on sight of one
        ("retire", Purpose.SUPPRESSION),  # still refused: one entry left
        ("subscribe", 2, 0),  # refused as suppressed, and rehashed on sight
        ("retire", Purpose.SUPPRESSION),  # accepted: v1 is empty
        ("rotate", Purpose.INDEX),
        ("retire", Purpose.INDEX),  # refused: a subscriber uses it
        ("rewrap", 1),
        ("retire", Purpose.INDEX),
    ]
)
def test_no_interleaving_changes_a_check(
    store: Vault, settings: Settings, keys_dir: Path, steps: list[tuple[object, ...]]
) -> None:
    pristine = _PRISTINE.setdefault(keys_dir, (keys_dir / "keyring.json").read_bytes())
    _reset(store, keys_dir, pristine)
    model: dict[int, set[SuppressionReason]] = {p: set() for p in range(len(SPELLINGS))}
    for step in steps:
        kind = step[0]
        if kind == "suppress":
            _, person, form, reason = step
            assert isinstance(person, int) and isinstance(form, int)
            assert isinstance(reason, SuppressionReason)
            store.suppress([parse_address(_raw(person, form))], reason=reason, source="prop")
            model[person].add(reason)
        elif kind == "check":
            _, person, form = step
            assert isinstance(person, int) and isinstance(form, int)
            answer = store.check([_raw(person, form)])[0]
            assert answer.suppressed == bool(model[person])
            if len(store.keys.suppression.key_ids) > 1 and answer.suppressed:
                event("check with several live suppression keys")
        elif kind == "subscribe":
            _, person, form = step
            assert isinstance(person, int) and isinstance(form, int)
            result = store.subscribe(
                _raw(person, form),
                list_name="news",
                consent=ConsentMethod.SINGLE_OPT_IN,  # never lifts a suppression
                source="prop",
            )
            assert (result.outcome == "suppressed") == bool(model[person])
        elif kind == "rotate":
            purpose = step[1]
            assert isinstance(purpose, Purpose)
            services.rotate(store, purpose=purpose)
        elif kind == "rewrap":
            batch = step[1]
            assert isinstance(batch, int)
            services.rewrap(store, batch=batch)
        elif kind == "retire":
            purpose = step[1]
            assert isinstance(purpose, Purpose)
            _retire_oldest(store, purpose)
        assert _observed(store) == _expected(model), f"after {step}"
    assert [
        (a.suppressed, a.reason)
        for a in store.check([_raw(p, f) for p in range(len(SPELLINGS)) for f in (0, 1)])
    ] == _expected(model)
    assert store.verify_audit().ok
