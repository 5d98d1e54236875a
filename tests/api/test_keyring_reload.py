"""A running API picks up a rotated keyring without a restart, and keeps answering correctly."""

import os
import signal

from tests.api.client import api_client
from tests.conftest import TEST_PASSPHRASE
from vault.addresses import parse_address
from vault.api.app import create_app
from vault.cli.principals import create_principal
from vault.crypto import Kek, Purpose, open_keyring
from vault.principals.permissions import Role
from vault.store import Vault
from vault.suppressions.models import SuppressionReason


def rotate_on_disk(store: Vault, purpose: Purpose) -> int:
    """What `mailvault keys rotate` does to the file, from outside the server."""
    ring = open_keyring(store.settings.keys_dir, Kek(passphrase=TEST_PASSPHRASE), allow_demo=False)
    new = ring.add_version(purpose)
    ring.save()
    return new.id


def check(client, token: str, address: str) -> bool:
    response = client.as_(token).post("/v1/suppressions/check", json={"addresses": [address]})
    assert response.status_code == 200, response.text
    return bool(response.json()["results"][0]["suppressed"])


def test_rotation_is_picked_up_on_the_next_request(store: Vault) -> None:
    store.suppress(
        [parse_address("before@example.com")], reason=SuppressionReason.COMPLAINT, source="t"
    )
    app = create_app(store, keyring_check_seconds=0)
    token = create_principal(store, name="mta", roles=[Role.SENDER])[1]
    with api_client(app) as client:
        assert check(client, token, "before@example.com")
        new_suppression = rotate_on_disk(store, Purpose.SUPPRESSION)
        new_token_key = rotate_on_disk(store, Purpose.TOKEN)
        # The old token (hashed under the older token key) and the old entry still work...
        assert check(client, token, "before@example.com")
        assert store.keys.suppression.primary_key_id == new_suppression
        assert app.state.keyring_watcher.reloads == 1
        # ...and new writes use the new primary.
        response = client.as_(token).post(
            "/v1/suppressions", json={"addresses": ["after@example.com"], "reason": "manual"}
        )
        assert response.status_code in (200, 201), response.text
        assert check(client, token, "after@example.com")
        assert store.keyring.primary(Purpose.TOKEN).id == new_token_key


def test_sighup_asks_for_a_reload(store: Vault) -> None:
    app = create_app(store, keyring_check_seconds=3600)
    watcher = app.state.keyring_watcher
    previous = signal.getsignal(signal.SIGHUP)
    try:
        watcher.install_sighup()
        rotate_on_disk(store, Purpose.ADDRESS)
        assert not watcher.check()  # not yet looked at: an hour between looks
        os.kill(os.getpid(), signal.SIGHUP)
        assert watcher.check()
    finally:
        signal.signal(signal.SIGHUP, previous)
