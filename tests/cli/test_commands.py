"""The mailvault command as a user runs it: exit codes, one-line errors, no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def mailvault(env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None):
    # Run the checkout under test even from another directory, not whatever checkout the
    # virtualenv's editable install happens to point at.
    path = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "vault", *args],
        env=env | {"PYTHONPATH": path},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or REPO,
    )


def assert_clean_error(result, fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_round_trip(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert mailvault(cli_env, "lists", "create", "news").returncode == 0
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("email,name\na@example.com,A\nb@example.org,B\nbroken,C\n")
    imported = mailvault(
        cli_env,
        "import",
        str(csv_file),
        "--list",
        "news",
        "--consent",
        "imported",
        "--source",
        "crm",
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported 2, duplicates 0, suppressed (skipped) 0, invalid 1" in imported.stdout
    suppressed = mailvault(
        cli_env,
        "suppress",
        "--reason",
        "unsubscribe",
        "--file",
        "-",
        stdin="a@example.com\nc@example.net\n",
    )
    assert suppressed.returncode == 0, suppressed.stderr
    assert "suppressed 2 new" in suppressed.stdout
    checked = mailvault(cli_env, "check", "--json", "A@example.com", "x@example.com", "nope")
    lines = [json.loads(line) for line in checked.stdout.splitlines()]
    assert lines[0] == {
        "address": "A@example.com",
        "suppressed": True,
        "reason": "unsubscribe",
        "scope": "global",
    }
    assert lines[1] == {
        "address": "x@example.com",
        "suppressed": False,
        "reason": None,
        "scope": None,
    }
    assert lines[2]["error"] == "the address has no @"
    domains = mailvault(cli_env, "domains", "--list", "news")
    assert "example.org" in domains.stdout and "example.com" not in domains.stdout
    assert mailvault(cli_env, "audit", "verify").returncode == 0


def test_bulk_suppress_csv_and_invalid_lines(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "esp-export.csv"
    source.write_text(
        "email,reason\na@example.com,bounce\nnot-an-address,x\nb@example.com,bounce\n"
    )
    result = mailvault(cli_env, "suppress", "--reason", "hard_bounce", "--file", str(source))
    assert result.returncode == 1
    assert "suppressed 2 new, 0 already suppressed, 1 invalid" in result.stdout
    assert "line 3: the address has no @" in result.stderr
    assert "not-an-address" not in result.stderr


def test_check_streams_a_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    mailvault(cli_env, "suppress", "--reason", "manual", "u3@example.com")
    source = tmp_path / "many.txt"
    source.write_text("".join(f"u{i}@example.com\n" for i in range(12000)))
    result = mailvault(cli_env, "check", "--json", "--file", str(source))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 12000
    assert [r["address"] for r in rows if r["suppressed"]] == ["u3@example.com"]
    plain = mailvault(cli_env, "check", "--file", str(source))
    lines = plain.stdout.splitlines()
    assert len(lines) == 12000
    assert lines[3] == "u3@example.com\tyes\tmanual\tglobal"
    assert lines[4] == "u4@example.com\tno\t\t"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ("subscribe", "no-at-sign", "--list", "news", "--consent", "single_opt_in"),
            "the address has no @",
        ),
        (
            ("subscribe", "a@example.com", "--list", "missing", "--consent", "single_opt_in"),
            "no list named 'missing'",
        ),
        (
            (
                "import",
                "/nonexistent.csv",
                "--list",
                "news",
                "--consent",
                "imported",
                "--source",
                "x",
            ),
            "cannot read",
        ),
        (
            ("suppress", "--reason", "manual", "--expires", "tomorrow", "a@example.com"),
            "--expires takes",
        ),
        (("check",), "give addresses"),
    ],
)
def test_bad_input_is_one_line(
    cli_env: dict[str, str], args: tuple[str, ...], fragment: str
) -> None:
    mailvault(cli_env, "lists", "create", "news")
    assert_clean_error(mailvault(cli_env, *args), fragment)


def test_wrong_passphrase(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, MAILVAULT_KEK_PASSPHRASE="wrong wrong wrong")
    result = mailvault(env, "check", "a@example.com")
    assert_clean_error(result, "the key-encryption passphrase does not open")
    assert "keyring.json" in result.stderr


def test_missing_keys_dir(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(cli_env, MAILVAULT_KEYS_DIR=str(tmp_path / "none"))
    assert_clean_error(mailvault(env, "check", "a@example.com"), "does not exist")


def test_example_keys_refused_outside_demo(cli_env: dict[str, str]) -> None:
    env = dict(
        cli_env,
        MAILVAULT_KEYS_DIR=str(REPO / "keys.example"),
        MAILVAULT_KEK_PASSPHRASE="mailvault-demo-passphrase-not-secret",
    )
    assert_clean_error(mailvault(env, "check", "a@example.com"), "only for demos")


def test_unmigrated_database_is_named(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(cli_env, MAILVAULT_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert_clean_error(mailvault(env, "check", "a@example.com"), "mailvault init")


def test_unreachable_database_is_named(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, MAILVAULT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert_clean_error(mailvault(env, "check", "a@example.com"), "cannot use the database")


def test_stores_side_by_side_with_config_files(tmp_path: Path) -> None:
    """Two stores in two directories, each with its own TOML file, keys and database."""
    base_env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MAILVAULT_")}
    # `init` runs from another directory; without this, `python -m vault` there imports whatever
    # checkout the virtualenv's editable install points at, not the code under test.
    base_env["PYTHONPATH"] = str(REPO)
    for name in ("one", "two"):
        home = tmp_path / name
        home.mkdir()
        (home / "mailvault.toml").write_text(
            "[mailvault]\n"
            'database_url = "sqlite:///store.db"\nkeys_dir = "keys"\nkek_file = "kek"\n'
        )
        init = mailvault(base_env, "--config", str(home / "mailvault.toml"), "init", cwd=tmp_path)
        assert init.returncode == 0, init.stderr
        assert (home / "store.db").exists() and (home / "keys" / "keyring.json").exists()
    mailvault(
        base_env, "--config", str(tmp_path / "one" / "mailvault.toml"), "suppress", "a@example.com"
    )
    one = mailvault(
        base_env,
        "--config",
        str(tmp_path / "one" / "mailvault.toml"),
        "check",
        "--json",
        "a@example.com",
    )
    two = mailvault(
        base_env,
        "--config",
        str(tmp_path / "two" / "mailvault.toml"),
        "check",
        "--json",
        "a@example.com",
    )
    assert json.loads(one.stdout)["suppressed"] is True
    assert json.loads(two.stdout)["suppressed"] is False


def test_keys_list_shows_no_material(cli_env: dict[str, str], keyring) -> None:
    result = mailvault(cli_env, "keys", "list")
    assert result.returncode == 0
    for key in keyring.entries():
        assert f"{key.id:08x}" in result.stdout
        assert key.secret().hex() not in result.stdout


def test_demo_runs_in_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MAILVAULT_")}
    env["MAILVAULT_DEMO"] = "1"
    env["COLUMNS"] = "200"
    first = mailvault(env, "demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "PUBLIC and for demos only" in first.stdout
    assert "audit chain intact" in first.stdout
    second = mailvault(env, "demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "mailvault.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("suppress", "--reason", "sometimes", "a@example.com"),
        ("subscribe", "a@example.com", "--list", "news", "--consent", "a-handshake"),
        ("no-such-command",),
        ("import",),
    ],
)
def test_usage_errors_show_usage_not_a_traceback(
    cli_env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = mailvault(cli_env, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Usage: mailvault" in result.stderr
