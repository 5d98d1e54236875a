import hmac

import pytest

from vault.crypto import Digester, Purpose


def test_digests_are_hmac_sha256_of_the_canonical_form(keyring) -> None:
    digester = Digester(keyring, Purpose.SUPPRESSION)
    key = keyring.primary(Purpose.SUPPRESSION)
    keyed = digester.primary("kijitora@example.com")
    assert keyed.key_id == key.id
    assert keyed.digest == hmac.digest(key.secret(), b"kijitora@example.com", "sha256")


def test_index_and_suppression_digests_differ(keyring) -> None:
    index = Digester(keyring, Purpose.INDEX).primary("kijitora@example.com").digest
    suppression = Digester(keyring, Purpose.SUPPRESSION).primary("kijitora@example.com").digest
    assert index != suppression


def test_all_live_covers_every_readable_version(keyring) -> None:
    before = Digester(keyring, Purpose.SUPPRESSION).primary("a@example.com")
    keyring.add_version(Purpose.SUPPRESSION)
    digester = Digester(keyring, Purpose.SUPPRESSION)
    live = digester.all_live("a@example.com")
    assert len(live) == 2
    assert live[0].key_id == digester.primary_key_id
    assert live[1] == before


def test_only_digest_purposes(keyring) -> None:
    with pytest.raises(ValueError, match="not for address digests"):
        Digester(keyring, Purpose.ADDRESS)
