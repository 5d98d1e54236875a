"""``mailvault retention show``: every rule in force, and the SPEC §6 record never stored."""

from tests.cli.test_commands import mailvault


def test_show_lists_the_new_classes_and_the_unstored_recipient_list(
    cli_env: dict[str, str],
) -> None:
    shown = mailvault(cli_env, "retention", "show")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any("delivery_outcome" in line and "180" in line for line in lines)
    assert any("bounce_state" in line and "30" in line for line in lines)
    assert any("mailing recipient list — never stored" in line for line in lines)
