import json
import stat
from pathlib import Path

import pytest

from tests.conftest import FAST_ARGON2, TEST_PASSPHRASE
from vault.config import DEMO_PASSPHRASE, example_keys_dir
from vault.crypto import Kek, KeyStatus, Purpose, create_keyring, generate_kek_file, open_keyring
from vault.errors import DemoKeysRefused, KeyringError, KeyringNotFound, UnknownKey, WrongKek


def test_new_keyring_has_one_primary_key_per_purpose(keyring) -> None:
    for purpose in Purpose:
        keys = keyring.entries(purpose)
        assert [k.status for k in keys] == [KeyStatus.PRIMARY]
        assert len(keys[0].secret()) == 32
    materials = {k.secret() for k in keyring.entries()}
    assert len(materials) == len(Purpose), "purposes must never share key material"
    ids = {k.id for k in keyring.entries()}
    assert len(ids) == len(Purpose) and all(0 < i < 2**31 for i in ids)


def test_file_is_private_and_holds_no_material_in_clear(keys_dir: Path, keyring) -> None:
    path = keys_dir / "keyring.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    for key in keyring.entries():
        assert key.secret().hex() not in raw
        import base64

        assert base64.b64encode(key.secret()).decode() not in raw


def test_wrong_passphrase_is_named(keys_dir: Path) -> None:
    with pytest.raises(WrongKek) as caught:
        open_keyring(keys_dir, Kek(passphrase="not the passphrase"), allow_demo=False)
    assert str(caught.value) == (
        f"the key-encryption passphrase does not open {keys_dir / 'keyring.json'}"
    )


def test_missing_keys_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyringNotFound, match="does not exist"):
        open_keyring(tmp_path / "nowhere", Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    with pytest.raises(KeyringNotFound, match="keys init"):
        open_keyring(tmp_path, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)


def test_edited_header_is_detected(keys_dir: Path) -> None:
    path = keys_dir / "keyring.json"
    document = json.loads(path.read_text())
    document["demo"] = True  # e.g. trying to pass a real keyring off as a demo one, or back
    path.write_text(json.dumps(document))
    with pytest.raises(WrongKek):
        open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=True)


def test_damaged_file_is_a_clear_error(keys_dir: Path) -> None:
    path = keys_dir / "keyring.json"
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="not a readable keyring"):
        open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)


def test_kek_file_round_trip(tmp_path: Path) -> None:
    kek_path = tmp_path / "kek"
    generate_kek_file(kek_path)
    assert stat.S_IMODE(kek_path.stat().st_mode) == 0o600
    created = create_keyring(tmp_path / "keys", Kek(file=kek_path))
    opened = open_keyring(tmp_path / "keys", Kek(file=kek_path), allow_demo=False)
    assert [k.id for k in opened.entries()] == [k.id for k in created.entries()]
    other = tmp_path / "other-kek"
    generate_kek_file(other)
    with pytest.raises(WrongKek, match="KEK file"):
        open_keyring(tmp_path / "keys", Kek(file=other), allow_demo=False)
    with pytest.raises(WrongKek, match="MAILVAULT_KEK_FILE"):
        open_keyring(tmp_path / "keys", Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)


def test_refuses_to_overwrite(keys_dir: Path) -> None:
    with pytest.raises(KeyringError, match="will not overwrite"):
        create_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), **FAST_ARGON2)


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="at least 12"):
        create_keyring(tmp_path, Kek(passphrase="short"), **FAST_ARGON2)


def test_example_keyring_opens_only_in_demo_mode() -> None:
    with pytest.raises(DemoKeysRefused, match="only for demos"):
        open_keyring(example_keys_dir(), Kek(passphrase=DEMO_PASSPHRASE), allow_demo=False)
    ring = open_keyring(example_keys_dir(), Kek(passphrase=DEMO_PASSPHRASE), allow_demo=True)
    assert ring.demo
    assert {k.purpose for k in ring.entries()} == set(Purpose)


def test_rotation_keeps_old_versions_readable(keyring, keys_dir: Path) -> None:
    old = keyring.primary(Purpose.SUPPRESSION)
    new = keyring.add_version(Purpose.SUPPRESSION)
    keyring.save()
    reopened = open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    assert reopened.primary(Purpose.SUPPRESSION).id == new.id
    assert [k.id for k in reopened.live(Purpose.SUPPRESSION)] == [new.id, old.id]
    assert reopened.get(old.id).status == KeyStatus.ACTIVE


def test_retired_key_material_is_destroyed(keyring, keys_dir: Path) -> None:
    old = keyring.primary(Purpose.ADDRESS)
    with pytest.raises(KeyringError, match="primary"):
        keyring.retire(old.id)
    keyring.add_version(Purpose.ADDRESS)
    keyring.retire(old.id)
    keyring.save()
    reopened = open_keyring(keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    with pytest.raises(UnknownKey, match="retired"):
        reopened.get(old.id)
    assert old.secret().hex() not in (keys_dir / "keyring.json").read_text()


def test_key_repr_never_shows_material(keyring) -> None:
    for key in keyring.entries():
        assert key.secret().hex() not in repr(key)
        assert str(key.secret()) not in repr(key)
