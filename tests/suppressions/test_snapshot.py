import hashlib
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault.addresses import parse_address
from vault.clock import FixedClock
from vault.store import Vault
from vault.suppressions.models import SuppressionReason
from vault.suppressions.snapshot import SuppressionSnapshot


def test_grows_and_finds_every_entry() -> None:
    snapshot = SuppressionSnapshot()
    digests = [os.urandom(32) for _ in range(5000)]
    for digest in digests:
        snapshot.add(digest, scope="global", reason="manual")
    assert len(snapshot) == 5000
    assert all(snapshot.contains(d) for d in digests)
    assert not any(snapshot.contains(os.urandom(32)) for _ in range(1000))
    assert snapshot.memory_bytes < 5000 * 40


def test_weightiest_reason_within_scopes() -> None:
    snapshot = SuppressionSnapshot()
    digest = os.urandom(32)
    snapshot.add(digest, scope="list-a", reason="complaint")
    snapshot.add(digest, scope="global", reason="unsubscribe")
    snapshot.add(digest, scope="global", reason="unsubscribe")  # again: not a second entry
    assert len(snapshot) == 2
    assert snapshot.best([digest], snapshot.scope_ids(["global"])) == ("unsubscribe", "global")
    both = snapshot.scope_ids(["global", "list-a"])
    assert snapshot.best([digest], both) == ("complaint", "list-a")
    assert snapshot.best([digest], snapshot.scope_ids(["list-b"])) is None


def test_matches_the_database_path(store: Vault, clock: FixedClock) -> None:
    store.create_list("news")
    store.suppress(
        [parse_address("a@example.com")],
        reason=SuppressionReason.UNSUBSCRIBE,
        source="t",
        list_name="news",
    )
    store.suppress([parse_address("b@example.com")], reason=SuppressionReason.COMPLAINT, source="t")
    store.suppress(
        [parse_address("c@example.com")],
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=clock.now() + timedelta(days=1),
    )
    store.suppress(
        [parse_address("d@example.com")],
        reason=SuppressionReason.SOFT_BOUNCE,
        source="t",
        expires_at=clock.now() - timedelta(days=1),
    )
    snapshot = store.load_snapshot()
    probes = [
        "a@example.com",
        "B@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
        "bad",
    ]
    for list_name in (None, "news"):
        fast = [
            (a.suppressed, a.reason, a.scope, a.error)
            for a in store.check_against(snapshot, probes, list_name=list_name)
        ]
        slow = [
            (a.suppressed, a.reason, a.scope, a.error)
            for a in store.check(probes, list_name=list_name)
        ]
        assert fast == slow


def test_snapshot_check_after_suppression_key_rotation(store: Vault) -> None:
    """Two live keys: the snapshot path digests under both, as the database path does."""
    store.suppress(
        [parse_address("old@example.com")], reason=SuppressionReason.COMPLAINT, source="t"
    )
    store.keyring.add_version(store.keys.suppression.purpose)
    store.use_keyring(store.keyring)
    store.suppress([parse_address("new@example.com")], reason=SuppressionReason.MANUAL, source="t")
    assert len(store.keys.suppression.key_ids) == 2
    probes = ["Old@example.com", "new@example.com", "other@example.com", "@example.com"]
    answers = list(store.check_against(store.load_snapshot(), probes, list_name=None))
    assert [(a.suppressed, a.reason) for a in answers] == [
        (True, "complaint"),
        (True, "manual"),
        (False, None),
        (False, None),
    ]
    assert answers[-1].error is not None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(list(SuppressionReason)), st.booleans()),
        max_size=25,
    )
)
def test_snapshot_agrees_with_sql_for_any_entries(entries) -> None:
    snapshot = SuppressionSnapshot(capacity=4)
    reference: dict[bytes, list[tuple[str, str]]] = {}
    for number, reason, scoped in entries:
        digest = hashlib.sha256(b"%d" % number).digest()
        scope = "list-x" if scoped else "global"
        snapshot.add(digest, scope=scope, reason=str(reason))
        reference.setdefault(digest, []).append((str(reason), scope))
    from vault.suppressions.models import REASON_PRECEDENCE

    ids = snapshot.scope_ids(["global", "list-x"])
    for number in range(31):
        digest = hashlib.sha256(b"%d" % number).digest()
        found = snapshot.best([digest], ids)
        if digest not in reference:
            assert found is None
        else:
            best_rank = min(
                REASON_PRECEDENCE.index(SuppressionReason(r)) for r, _ in reference[digest]
            )
            assert found is not None
            assert REASON_PRECEDENCE.index(SuppressionReason(found[0])) == best_rank
