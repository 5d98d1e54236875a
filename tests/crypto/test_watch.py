"""A running service keeps answering across a rotation without a restart: the keyring watcher
reloads on a changed file and on SIGHUP, and hands the new keyring to a live ``Vault``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSPHRASE
from vault.addresses import parse_address
from vault.config import Settings
from vault.crypto import Kek, Keyring, KeyringWatcher, Purpose, open_keyring
from vault.keys import services
from vault.store import Vault
from vault.suppressions.models import SuppressionReason


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def other_process(settings: Settings) -> Vault:
    """Another mailvault process (an operator's CLI) working on the same store."""
    return Vault.open(settings)


def test_service_picks_up_a_rotation_by_noticing_the_file(store: Vault, settings: Settings) -> None:
    clock = Clock()
    watcher = KeyringWatcher(
        settings, on_change=store.use_keyring, current=store.keyring, clock=clock
    )
    store.suppress([parse_address("old@example.com")], reason=SuppressionReason.MANUAL, source="t")
    assert watcher.check() is False  # nothing changed

    operator = other_process(settings)
    try:
        services.rotate(operator, purpose=Purpose.SUPPRESSION)
        # A sender that reloaded writes under the new key...
        operator.suppress(
            [parse_address("new@example.com")], reason=SuppressionReason.MANUAL, source="t"
        )
    finally:
        operator.close()
    # ... which the service, still on the old keyring, cannot see yet:
    assert [a.suppressed for a in store.check(["old@example.com", "new@example.com"])] == [
        True,
        False,
    ]
    assert watcher.check() is False  # within the interval: not even a stat
    clock.now += 1.5
    assert watcher.check() is True
    assert watcher.reloads == 1
    assert [a.suppressed for a in store.check(["old@example.com", "new@example.com"])] == [
        True,
        True,
    ]
    clock.now += 1.5
    assert watcher.check() is False  # same file: no reload


def test_sighup_reloads_at_the_next_check(store: Vault, settings: Settings) -> None:
    watcher = KeyringWatcher(
        settings, on_change=store.use_keyring, current=store.keyring, interval=3600
    )
    previous = signal.getsignal(signal.SIGHUP)
    chained: list[int] = []
    signal.signal(signal.SIGHUP, lambda signum, _frame: chained.append(signum))
    try:
        watcher.install_sighup()
        operator = other_process(settings)
        try:
            rotation = services.rotate(operator, purpose=Purpose.SUPPRESSION)
        finally:
            operator.close()
        assert watcher.check() is False  # the interval is an hour: the file is not looked at
        os.kill(os.getpid(), signal.SIGHUP)
        assert chained == [signal.SIGHUP]  # a handler installed before still runs
        assert watcher.check() is True
        assert store.keys.suppression.primary_key_id == rotation.new.id
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_service_survives_rotate_rewrap_and_retire(store: Vault, settings: Settings) -> None:
    """The full cycle while the service runs: it answers correctly at every step."""
    clock = Clock()
    watcher = KeyringWatcher(
        settings, on_change=store.use_keyring, current=store.keyring, clock=clock
    )
    store.suppress(
        [parse_address(a) for a in ("a@example.com", "b@example.com")],
        reason=SuppressionReason.COMPLAINT,
        source="t",
    )
    operator = other_process(settings)
    try:
        services.rotate(operator, purpose=Purpose.SUPPRESSION)
        clock.now += 2
        watcher.check()
        assert all(a.suppressed for a in store.check(["a@example.com", "b@example.com"]))
        # Both were seen by the service: rehashed on sight, so v1 can retire.
        services.retire(operator, purpose=Purpose.SUPPRESSION, version=1)
    finally:
        operator.close()
    clock.now += 2
    assert watcher.check() is True
    assert len(store.keys.suppression.key_ids) == 1
    assert all(a.suppressed for a in store.check(["a@example.com", "b@example.com"]))


def test_a_bad_keyring_file_keeps_the_keys_in_use(
    store: Vault, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    watcher = KeyringWatcher(
        settings, on_change=store.use_keyring, current=store.keyring, clock=clock
    )
    before = store.keys
    path = settings.keys_dir / "keyring.json"
    good = path.read_bytes()
    path.write_text("{half a file")
    clock.now += 2
    assert watcher.check() is False
    assert "not a readable keyring" in (watcher.last_error or "")
    assert "keyring reload failed" in caplog.text
    assert store.keys is before
    assert store.check(["a@example.com"])[0].suppressed is False  # still answering
    clock.now += 2
    assert watcher.check() is False  # the same broken file is not retried on every request
    path.write_bytes(good)
    os.utime(path, ns=(1, 1))
    clock.now += 2
    assert watcher.check() is False  # the keys did not change: nothing to hand over
    assert watcher.last_error is None


def test_rekey_without_the_new_kek_is_reported_not_fatal(store: Vault, settings: Settings) -> None:
    watcher = KeyringWatcher(settings, on_change=store.use_keyring, current=store.keyring)
    ring: Keyring = open_keyring(
        settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False
    )
    ring.rekey(Kek(passphrase="the next passphrase"), time_cost=1, memory_cost_kib=8, parallelism=1)
    ring.save()
    assert watcher.reload() is False
    assert "does not open" in (watcher.last_error or "")


def test_on_change_sees_only_real_changes(settings: Settings, keys_dir: Path) -> None:
    seen: list[str] = []
    watcher = KeyringWatcher(settings, on_change=lambda ring: seen.append(ring.fingerprint))
    assert watcher.reload() is True  # no keyring known yet: the first load counts
    assert watcher.reload() is False
    assert watcher.keyring is not None and seen == [watcher.keyring.fingerprint]
