"""Rotate, retire, rekey, status and crypto-shredding lists, on a live store."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSPHRASE
from vault.addresses import parse_address
from vault.audit.models import AuditEntry
from vault.clock import FixedClock
from vault.config import Settings
from vault.crypto import Kek, KeyStatus, Purpose, open_keyring, primitives
from vault.errors import Conflict, InvalidToken, NotFound, UnknownKey, WrongKek
from vault.keys import services
from vault.store import Vault
from vault.subscribers.models import ConsentMethod, Subscriber
from vault.suppressions.models import Suppression, SuppressionReason


def audit_entries(store: Vault, tag: str) -> list[AuditEntry]:
    with store.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.tag == tag)))


def keyring_payload(keys_dir: Path, passphrase: str = TEST_PASSPHRASE) -> bytes:
    """The keyring file's sealed payload, opened: what the file holds once decrypted."""
    ring = open_keyring(keys_dir, Kek(passphrase=passphrase), allow_demo=False)
    document = json.loads((keys_dir / "keyring.json").read_bytes())
    header = {k: v for k, v in document.items() if k not in ("nonce", "sealed")}
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return primitives.kek_open(
        ring._kek, base64.b64decode(document["nonce"]), base64.b64decode(document["sealed"]), aad
    )


def test_rotate_adds_a_primary_and_is_audited(store: Vault, settings: Settings) -> None:
    before = store.keys.suppression.primary_key_id
    rotation = services.rotate(store, purpose=Purpose.SUPPRESSION)
    assert rotation.previous.id == before
    assert (rotation.new.version, rotation.new.status) == (2, KeyStatus.PRIMARY)
    assert store.keys.suppression.primary_key_id == rotation.new.id  # the store switched
    on_disk = open_keyring(settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    assert on_disk.primary(Purpose.SUPPRESSION).id == rotation.new.id
    assert on_disk.get(before).status == KeyStatus.ACTIVE
    (entry,) = audit_entries(store, "key:rotate")
    assert entry.details == {
        "purpose": "suppression",
        "version": 2,
        "key_id": rotation.new.id,
        "previous_key_id": before,
        "previous_version": 1,
    }
    assert "material" not in json.dumps(entry.details)


def test_status_counts_rows_per_version(store: Vault) -> None:
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    store.suppress([parse_address("x@example.com")], reason=SuppressionReason.MANUAL, source="t")
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    store.suppress([parse_address("y@example.com")], reason=SuppressionReason.MANUAL, source="t")
    report = {(u.key.purpose, u.key.version): u for u in services.status(store)}
    assert report[(Purpose.SUPPRESSION, 1)].rows == {"suppressions.key_id": 1}
    assert report[(Purpose.SUPPRESSION, 2)].rows == {"suppressions.key_id": 1}
    assert report[(Purpose.ADDRESS, 1)].rows == {"subscribers.address_key_id": 1}
    assert report[(Purpose.INDEX, 1)].rows == {"subscribers.index_key_id": 1}
    assert report[(Purpose.AUDIT, 1)].total == len(audit_entries(store, "subscriber:created")) + 4
    assert report[(Purpose.TOKEN, 1)].total == 0


def test_retire_refuses_the_primary_and_unknown_versions(store: Vault) -> None:
    with pytest.raises(Conflict, match="is primary; rotate first"):
        services.retire(store, purpose=Purpose.TOKEN, version=1)
    with pytest.raises(NotFound, match="no index key version 7"):
        services.retire(store, purpose=Purpose.INDEX, version=7)


def test_retiring_a_token_key_that_signed_recent_links_needs_break_links(
    store: Vault, clock: FixedClock
) -> None:
    news = store.create_list("news")
    subscribed = store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    assert subscribed.subscriber_id is not None
    sent = store.unsubscribe_token(subscriber_id=subscribed.subscriber_id, list_id=news.id)
    rotation = services.rotate(store, purpose=Purpose.TOKEN)
    clock.set(rotation.new.created_at + timedelta(days=services.TOKEN_LINK_DAYS - 1))
    with pytest.raises(Conflict, match=r"signed the unsubscribe links .* --break-links"):
        services.retire(store, purpose=Purpose.TOKEN, version=1)
    with pytest.raises(Conflict, match="token keys only"):
        services.retire(store, purpose=Purpose.INDEX, version=1, break_links=True)
    store.verify_unsubscribe_token(sent)  # the link in mail already sent still works

    services.retire(store, purpose=Purpose.TOKEN, version=1, break_links=True)
    with pytest.raises(InvalidToken):
        store.verify_unsubscribe_token(sent)


def test_a_token_key_retires_without_a_flag_once_its_links_are_old(
    store: Vault, clock: FixedClock
) -> None:
    rotation = services.rotate(store, purpose=Purpose.TOKEN)
    clock.set(rotation.new.created_at + timedelta(days=services.TOKEN_LINK_DAYS))
    retired = services.retire(store, purpose=Purpose.TOKEN, version=1)
    assert retired.key.status == KeyStatus.RETIRED


@pytest.mark.parametrize("purpose", [Purpose.ADDRESS, Purpose.INDEX])
def test_retire_refused_while_subscribers_use_it(store: Vault, purpose: Purpose) -> None:
    store.create_list("news")
    store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    services.rotate(store, purpose=purpose)
    with pytest.raises(Conflict, match=rf"still used by 1 in subscribers\.{purpose}_key_id"):
        services.retire(store, purpose=purpose, version=1)
    with pytest.raises(Conflict, match="suppression keys only"):
        services.retire(store, purpose=purpose, version=1, drop_entries=True, confirm=1)
    services.rewrap(store, purposes={purpose})
    retired = services.retire(store, purpose=purpose, version=1)
    assert retired.key.status == KeyStatus.RETIRED and retired.dropped == 0


def test_retire_audit_key_refused_while_entries_use_it_and_old_entries_verify(
    store: Vault,
) -> None:
    store.create_list("news")
    services.rotate(store, purpose=Purpose.AUDIT)
    store.create_list("offers")  # MACed under the new audit key
    with store.read() as session:
        key_ids = [e.key_id for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert len(set(key_ids)) == 2  # each entry records the version that MACed it
    assert store.verify_audit().ok
    with pytest.raises(Conflict, match=r"audit_entries\.key_id"):
        services.retire(store, purpose=Purpose.AUDIT, version=1)
    assert store.verify_audit().ok


def test_retire_suppression_version_needs_drop_and_the_typed_count(store: Vault) -> None:
    store.suppress(
        [parse_address("a@example.com"), parse_address("b@example.com")],
        reason=SuppressionReason.COMPLAINT,
        source="t",
    )
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    with pytest.raises(Conflict, match=r"still used by 2 in suppressions\.key_id"):
        services.retire(store, purpose=Purpose.SUPPRESSION, version=1)
    with pytest.raises(Conflict, match="--confirm 2"):
        services.retire(store, purpose=Purpose.SUPPRESSION, version=1, drop_entries=True)
    with pytest.raises(Conflict, match="--confirm 2"):
        services.retire(store, purpose=Purpose.SUPPRESSION, version=1, drop_entries=True, confirm=3)
    assert all(a.suppressed for a in store.check(["a@example.com", "b@example.com"]))
    # That check saw both addresses and rehashed them on sight: v1 is empty and retires.
    assert services.usage_of(store, purpose=Purpose.SUPPRESSION, version=1).total == 0
    retired = services.retire(store, purpose=Purpose.SUPPRESSION, version=1)
    assert retired.dropped == 0  # nothing left on it: no drop needed
    (entry,) = audit_entries(store, "key:retire")
    assert entry.details["dropped_entries"] == 0


def test_drop_entries_writes_the_count_to_the_audit_log(store: Vault) -> None:
    store.suppress([parse_address("a@example.com")], reason=SuppressionReason.MANUAL, source="t")
    services.rotate(store, purpose=Purpose.SUPPRESSION)
    retired = services.retire(
        store, purpose=Purpose.SUPPRESSION, version=1, drop_entries=True, confirm=1
    )
    assert retired.dropped == 1
    (entry,) = audit_entries(store, "key:retire")
    assert entry.details["dropped_entries"] == 1 and entry.details["version"] == 1
    with store.read() as session:
        assert session.scalars(select(Suppression)).all() == []
    assert store.verify_audit().ok


def test_after_retirement_the_material_is_gone_and_old_ciphertexts_fail_clearly(
    store: Vault, settings: Settings
) -> None:
    store.create_list("news")
    result = store.subscribe(
        "a@example.com", list_name="news", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    with store.read() as session:
        row = session.get(Subscriber, result.subscriber_id)
        assert row is not None
        old_sealed, domain = row.sealed_local_part, row.domain
    old_key = store.keyring.primary(Purpose.ADDRESS)
    material = old_key.secret()
    services.rotate(store, purpose=Purpose.ADDRESS)
    services.rewrap(store)
    services.retire(store, purpose=Purpose.ADDRESS, version=1)

    raw_file = (settings.keys_dir / "keyring.json").read_bytes()
    payload = keyring_payload(settings.keys_dir)
    for blob in (raw_file, payload):
        assert material not in blob
        assert base64.b64encode(material) not in blob
        assert material.hex().encode() not in blob
    entry = next(k for k in json.loads(payload)["keys"] if k["id"] == old_key.id)
    assert entry["material"] is None and entry["status"] == "retired"

    reopened = open_keyring(settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    assert reopened.get(store.keys.cipher.primary_key_id())  # the new one still works
    from vault.crypto import LocalPartCipher

    with pytest.raises(UnknownKey, match="is retired"):
        LocalPartCipher(reopened).open(
            old_sealed, subscriber_id=result.subscriber_id, domain=domain
        )


def test_rekey_seals_the_same_keys_under_a_new_passphrase(store: Vault, settings: Settings) -> None:
    ids = [k.id for k in store.keyring.entries()]
    services.rekey(store, kek=Kek(passphrase="a brand new passphrase"))
    with pytest.raises(WrongKek):
        open_keyring(settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    ring = open_keyring(
        settings.keys_dir, Kek(passphrase="a brand new passphrase"), allow_demo=False
    )
    assert [k.id for k in ring.entries()] == ids
    (entry,) = audit_entries(store, "key:rekey")
    assert entry.details == {"kek": "passphrase", "keys": len(ids)}
    assert "brand new" not in json.dumps(entry.details)


def test_a_failed_audit_write_leaves_the_keyring_as_it_was(
    store: Vault, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (settings.keys_dir / "keyring.json").read_bytes()

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(services.audit, "record", broken)
    with pytest.raises(RuntimeError, match="audit down"):
        services.rotate(store, purpose=Purpose.INDEX)
    assert (settings.keys_dir / "keyring.json").read_bytes() == before


def test_list_with_its_own_key_is_shredded_on_delete(store: Vault, settings: Settings) -> None:
    created = services.create_list(store, "private", own_key=True)
    assert created.own_key_id is not None
    result = store.subscribe(
        "secret@example.com", list_name="private", consent=ConsentMethod.SINGLE_OPT_IN, source="t"
    )
    with store.read() as session:
        row = session.get(Subscriber, result.subscriber_id)
        assert row is not None and row.address_key_id == created.own_key_id
        backup = (row.sealed_local_part, row.id, row.domain)  # as an old backup would hold it
    assert store.keys.cipher.open(backup[0], subscriber_id=backup[1], domain=backup[2]) == "secret"

    deleted = services.delete_list(store, "private")
    assert deleted.subscribers == 1 and deleted.key_destroyed is not None
    ring = open_keyring(settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    from vault.crypto import LocalPartCipher

    with pytest.raises(UnknownKey, match="retired"):
        LocalPartCipher(ring).open(backup[0], subscriber_id=backup[1], domain=backup[2])
    (entry,) = audit_entries(store, "list:delete")
    assert entry.details == {"subscribers_removed": 1, "own_key_destroyed": created.own_key_id}
    with pytest.raises(NotFound):
        store.get_list("private")


def test_deleting_a_list_keeps_its_suppressions(store: Vault) -> None:
    store.create_list("news")
    store.unsubscribe("a@example.com", list_name="news", source="t")
    deleted = services.delete_list(store, "news")
    assert deleted.key_destroyed is None
    with store.read() as session:
        assert len(session.scalars(select(Suppression)).all()) == 1
