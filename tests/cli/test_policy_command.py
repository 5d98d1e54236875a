"""`mailvault policy-server` options: the command line over the TOML file's [policy] table over
the defaults, and settings that cannot work refused by name before anything starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vault.cli.policy import PolicyOptions, policy_options
from vault.errors import ConfigError
from vault.policy.daemon import DEFAULT_LISTEN
from vault.policy.responder import DEFAULT_UNAVAILABLE_ACTION

from .test_commands import assert_clean_error, mailvault


def test_defaults_match_the_documented_ones() -> None:
    options = policy_options({})
    assert options == PolicyOptions()
    assert options.policy_listen() == DEFAULT_LISTEN
    assert options.unavailable_action == DEFAULT_UNAVAILABLE_ACTION
    assert (options.refresh_interval, options.rebuild_interval, options.max_staleness) == (
        0.5,
        60.0,
        5.0,
    )
    # A Unix socket alone replaces the default TCP listener.
    assert policy_options({"unix": "/run/p.sock"}).policy_listen() is None


def test_command_line_over_the_policy_table() -> None:
    section = {
        "listen": "127.0.0.1:20040",
        "socketmap_listen": "127.0.0.1:20041",
        "scope_rules": ["sasl_username:bulk=newsletter"],
        "max_staleness": 3,
    }
    options = policy_options(section, listen="127.0.0.1:30040", scope_rules=None, metrics=None)
    assert options.listen == "127.0.0.1:30040"
    assert options.socketmap_listen == "127.0.0.1:20041"
    assert options.scope_rules == ("sasl_username:bulk=newsletter",)
    assert options.max_staleness == 3.0
    assert [r.scope for r in options.parsed_scope_rules()] == ["newsletter"]
    given = policy_options(section, scope_rules=["sender_domain:news.example=offers"])
    assert given.scope_rules == ("sender_domain:news.example=offers",)


@pytest.mark.parametrize(
    ("section", "given", "message"),
    [
        ({"listn": "x"}, {}, "unknown setting(s) in [policy]: listn"),
        ({"max_staleness": "soon"}, {}, "max_staleness in [policy] must be a positive number"),
        ({"refresh_interval": 2, "max_staleness": 1}, {}, "must be longer than refresh"),
        ({}, {"unavailable_action": "DUNNO"}, "never let mail through"),
        ({"scope_rules": "sender:x"}, {}, "must be a list"),
        ({}, {"scope_rules": ["nonsense"]}, "FIELD:VALUE=LIST"),
        ({"log_level": "loud"}, {}, "log_level must be one of"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    section: dict[str, object], given: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        policy_options(section, **given)


def test_the_command_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "mailvault.toml"
    config.write_text('[policy]\nunavailable_action = "DUNNO"\n')
    result = mailvault({"PATH": "/usr/bin:/bin"}, "--config", str(config), "policy-server")
    assert_clean_error(result, "never let mail through")
    assert result.returncode == 2
