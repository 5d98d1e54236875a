"""``mailvault keys …`` and the shredding list commands as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_commands import assert_clean_error, mailvault


def status(env: dict[str, str]) -> dict[tuple[str, int], dict[str, object]]:
    result = mailvault(env, "keys", "status", "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {(r["purpose"], r["version"]): r for r in records if r["list_id"] is None}


def test_rotate_status_rewrap_retire(cli_env: dict[str, str]) -> None:
    assert mailvault(cli_env, "lists", "create", "news").returncode == 0
    assert (
        mailvault(
            cli_env, "subscribe", "a@example.com", "--list", "news", "--consent", "single_opt_in"
        ).returncode
        == 0
    )
    assert mailvault(cli_env, "suppress", "--reason", "complaint", "b@example.com").returncode == 0

    rotated = mailvault(cli_env, "keys", "rotate", "--purpose", "address")
    assert rotated.returncode == 0, rotated.stderr
    assert "rotated address: version 2" in rotated.stdout
    assert "keys rewrap" in rotated.stderr
    assert mailvault(cli_env, "keys", "rotate", "--purpose", "suppression").returncode == 0
    before = status(cli_env)
    assert before[("address", 1)]["rows"] == 1 and before[("address", 2)]["rows"] == 0
    assert before[("suppression", 1)]["where"] == {"suppressions.key_id": 1}

    dry = mailvault(cli_env, "keys", "rewrap", "--dry-run")
    assert dry.returncode == 0 and "1 row(s) would be rewritten" in dry.stdout
    assert_clean_error(
        mailvault(cli_env, "keys", "retire", "--purpose", "address", "--version", "1"),
        "still used by 1 in subscribers.address_key_id",
    )
    done = mailvault(cli_env, "keys", "rewrap", "--purpose", "address", "--batch", "10")
    assert done.returncode == 0, done.stderr
    assert "rewrapped 1 row(s) in 1 batch(es): 1 re-encrypted, 0 re-indexed" in done.stdout
    retired = mailvault(cli_env, "keys", "retire", "--purpose", "address", "--version", "1")
    assert retired.returncode == 0, retired.stderr
    assert "material is destroyed" in retired.stdout
    assert status(cli_env)[("address", 1)]["status"] == "retired"
    assert mailvault(cli_env, "audit", "verify").returncode == 0


def test_retire_refusals_are_one_line(cli_env: dict[str, str]) -> None:
    mailvault(cli_env, "suppress", "--reason", "complaint", "a@example.com", "b@example.com")
    assert_clean_error(
        mailvault(cli_env, "keys", "retire", "--purpose", "suppression", "--version", "1"),
        "is primary; rotate first",
    )
    mailvault(cli_env, "keys", "rotate", "--purpose", "suppression")
    assert_clean_error(
        mailvault(cli_env, "keys", "retire", "--purpose", "suppression", "--version", "1"),
        "still used by 2 in suppressions.key_id",
    )
    # --drop-entries needs the count typed; not a terminal here, so --confirm it must be.
    assert_clean_error(
        mailvault(
            cli_env,
            "keys",
            "retire",
            "--purpose",
            "suppression",
            "--version",
            "1",
            "--drop-entries",
        ),
        "confirm with --confirm 2",
    )
    assert_clean_error(
        mailvault(
            cli_env,
            "keys",
            "retire",
            "--purpose",
            "suppression",
            "--version",
            "1",
            "--drop-entries",
            "--confirm",
            "5",
        ),
        "Confirm with the number 2",
    )
    assert_clean_error(
        mailvault(cli_env, "keys", "retire", "--purpose", "index", "--version", "9"),
        "no index key version 9",
    )
    still = mailvault(cli_env, "check", "--json", "a@example.com")
    assert json.loads(still.stdout)["suppressed"] is True
    dropped = mailvault(
        cli_env,
        "keys",
        "retire",
        "--purpose",
        "suppression",
        "--version",
        "1",
        "--drop-entries",
        "--confirm",
        "1",  # the check above rehashed a@ on sight: one entry left on v1
    )
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped 1 suppression entries" in dropped.stdout


def test_rekey_with_a_new_passphrase_and_a_kek_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    refused = mailvault(cli_env, "keys", "rekey")
    assert_clean_error(refused, "MAILVAULT_NEW_KEK_PASSPHRASE")
    env = dict(cli_env, MAILVAULT_NEW_KEK_PASSPHRASE="a different passphrase")
    rekeyed = mailvault(env, "keys", "rekey")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert_clean_error(mailvault(cli_env, "keys", "list"), "does not open")
    moved = dict(cli_env, MAILVAULT_KEK_PASSPHRASE="a different passphrase")
    assert mailvault(moved, "keys", "list").returncode == 0
    kek = tmp_path / "new.kek"
    to_file = mailvault(moved, "keys", "rekey", "--new-kek-file", str(kek))
    assert to_file.returncode == 0, to_file.stderr
    assert kek.exists()
    by_file = {k: v for k, v in moved.items() if k != "MAILVAULT_KEK_PASSPHRASE"}
    by_file["MAILVAULT_KEK_FILE"] = str(kek)
    assert mailvault(by_file, "keys", "status").returncode == 0
    assert mailvault(by_file, "audit", "verify").returncode == 0


def test_lists_with_their_own_key(cli_env: dict[str, str]) -> None:
    created = mailvault(cli_env, "lists", "create", "private", "--own-key")
    assert created.returncode == 0, created.stderr
    assert "own key" in created.stdout
    mailvault(
        cli_env, "subscribe", "a@example.com", "--list", "private", "--consent", "single_opt_in"
    )
    assert_clean_error(mailvault(cli_env, "lists", "delete", "private"), "--confirm 'private'")
    deleted = mailvault(cli_env, "lists", "delete", "private", "--confirm", "private")
    assert deleted.returncode == 0, deleted.stderr
    assert "1 subscriber(s); its own key" in deleted.stdout
    keys = mailvault(cli_env, "keys", "status", "--json")
    own = [json.loads(line) for line in keys.stdout.splitlines() if '"list_id": "' in line]
    assert [k["status"] for k in own] == ["retired"]
