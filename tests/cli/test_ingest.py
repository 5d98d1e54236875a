"""``mailvault ingest`` as an operator and as a Postfix pipe run it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from tests.cli.test_commands import assert_clean_error, mailvault
from tests.deliveries.messages import (
    COMPLAINT,
    CONSUMER_HARD,
    CORPORATE_HARD,
    MAILBOX_FULL,
    SPAM_BLOCK,
    mbox,
    message_for,
    need_corpus,
)
from vault.deliveries.models import DeliveryOutcome

# Real corpus files and what the dry run must say about them (recipient, base action).
DRY_RUN_FILES = {
    "lhost-postfix-04.eml": [("kijitora@example.co.jp", "5.1.1", "user_unknown", "confirm")],
    "lhost-postfix-31.eml": [("kijitora@gmail.com", "5.1.1", "user_unknown", "suppress")],
    "lhost-barracuda-01.eml": [("kijitora@example.org", "5.7.1", "spam_detected", "domain")],
    "lhost-amazonworkmail-04.eml": [("chatoraneko@example.jp", "5.2.2", "mailbox_full", "count")],
    "arf-14.eml": [("kijitora@y.example.com", None, "complaint", "suppress")],
    "arf-26.eml": [("example@icloud.com", None, "vacation", "ignore")],
}


def test_dry_run_json_over_corpus_files(tmp_path: Path) -> None:
    corpus = need_corpus()
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"From: a@b.example\nSubject: hello\n\nnot a bounce\n")
    files = [str(corpus / name) for name in DRY_RUN_FILES] + [str(plain)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    # No store anywhere: a dry run needs none.
    result = mailvault(
        env | {"MAILVAULT_DATABASE_URL": "sqlite:////nonexistent/x.db"},
        "ingest",
        "--dry-run",
        "--json",
        *files,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [
        {"file": str(corpus / name), "recipient": r, "status": s, "reason": reason, "action": a}
        for name, rows in DRY_RUN_FILES.items()
        for r, s, reason, a in rows
    ] + [{"file": str(plain), "action": "none"}]
    assert lines == expected
    assert not (tmp_path / "mailvault.db").exists()


def test_dry_run_numbers_the_messages_of_an_mbox(tmp_path: Path) -> None:
    box = tmp_path / "bounces.mbox"
    box.write_bytes(
        mbox(
            [
                message_for(CORPORATE_HARD, "a@corp.example"),
                b"garbage\n",
                message_for(MAILBOX_FULL, "b@corp.example"),
            ]
        )
    )
    result = mailvault(dict(os.environ), "ingest", "--dry-run", "--json", str(box))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["message"], x["recipient"], x["action"]) for x in lines] == [
        (1, "a@corp.example", "confirm"),
        (3, "b@corp.example", "count"),
    ]
    assert "message 2: unreadable" in result.stderr
    text = mailvault(dict(os.environ), "ingest", "--dry-run", str(box))
    assert "3 message(s), 2 bounced recipient(s)" in " ".join(text.stdout.split())


def test_a_real_run_over_an_mbox(cli_env: dict[str, str], tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    people = [f"person{i}.secret@corp-{i}.example" for i in range(5)]
    box = tmp_path / "bounces.mbox"
    box.write_bytes(
        mbox(
            [
                message_for(CORPORATE_HARD, people[0]),
                message_for(CONSUMER_HARD, "person1.secret@gmail.com"),
                message_for(SPAM_BLOCK, people[2]),
                b"not a message at all\n",
                message_for(MAILBOX_FULL, people[3]),
                message_for(COMPLAINT, people[4]),
            ]
        )
    )
    result = mailvault(cli_env, "ingest", "--json", str(box))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["messages"] == 6 and summary["unreadable"] == 1
    assert summary["by_action"] == {"confirm": 1, "count": 1, "domain": 1, "suppress": 2}
    assert summary["by_taken"] == {"counted": 1, "domain": 1, "pending": 1, "suppressed": 2}
    assert summary["suppressions_added"] == {"complaint": 1, "hard_bounce": 1}
    assert f"{box}: message 4: unreadable" in result.stderr
    assert "secret" not in result.stderr

    text = mailvault(cli_env, "ingest", "-", stdin=message_for(SPAM_BLOCK, people[2]).decode())
    assert text.returncode == 0, text.stderr
    assert "1 message(s): 1 with reports" in text.stdout
    assert "recipients by action: suppress 0, confirm 0, count 0, domain 1, ignore 0" in text.stdout

    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(DeliveryOutcome.__table__)).all()
    finally:
        engine.dispose()
    assert len(rows) == 6
    assert "secret" not in repr(rows)
    checked = mailvault(cli_env, "check", "--json", "person1.secret@gmail.com", people[4])
    reasons = [json.loads(line)["reason"] for line in checked.stdout.splitlines()]
    assert reasons == ["hard_bounce", "complaint"]


def test_an_unavailable_store_defers_for_postfix(tmp_path: Path, cli_env: dict[str, str]) -> None:
    need_corpus()
    env = cli_env | {"MAILVAULT_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.db'}"}
    result = mailvault(env, "ingest", "-", stdin=message_for(SPAM_BLOCK, "a@b.example").decode())
    assert result.returncode == 75
    assert_clean_error(result, "the store is unavailable")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["ingest"], "give FILE"), (["ingest", "/nonexistent/box"], "does not exist")],
)
def test_usage_errors(cli_env: dict[str, str], args: list[str], fragment: str) -> None:
    assert_clean_error(mailvault(cli_env, *args), fragment)


def test_parser_workers_keep_the_dry_run_and_the_real_run_as_in_one_process(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    kinds = [CORPORATE_HARD, MAILBOX_FULL, SPAM_BLOCK, CONSUMER_HARD]
    messages = [
        b"garbage\n" if i % 9 == 4 else message_for(kinds[i % 4], f"p{i}.secret@corp-{i}.example")
        for i in range(300)
    ]
    box = tmp_path / "bounces.mbox"
    box.write_bytes(mbox(messages))
    dry = [
        mailvault(dict(os.environ), "ingest", "--dry-run", "--json", f"--workers={n}", str(box))
        for n in (1, 2)
    ]
    assert dry[0].returncode == dry[1].returncode == 0, dry[1].stderr
    assert dry[0].stdout == dry[1].stdout and dry[0].stderr == dry[1].stderr
    lines = [json.loads(line) for line in dry[1].stdout.splitlines()]
    assert [x["message"] for x in lines] == [i + 1 for i in range(300) if i % 9 != 4]

    real = mailvault(cli_env, "ingest", "--json", "--workers=2", "--batch=80", str(box))
    assert real.returncode == 0, real.stderr
    summary = json.loads(real.stdout)
    assert (summary["messages"], summary["unreadable"], summary["with_reports"]) == (300, 33, 267)
    named = [line.partition(": unreadable")[0] for line in real.stderr.splitlines()]
    assert named[:3] == [f"{box}: message {n}" for n in (5, 14, 23)]
    assert "secret" not in real.stderr
