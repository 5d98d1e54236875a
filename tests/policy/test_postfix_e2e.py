"""End to end with a real Postfix: mail to suppressed recipients is refused at RCPT (policy
delegation and check_recipient_access socketmap) or bounced by transport_maps (mail injected
with sendmail), never relayed to the sink; a store outage defers mail, never delivers it.

One private Postfix (see postfix_harness.py) serves the whole module; each test uses its own
addresses, so the order of the tests does not matter.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from .doubles import MemoryLookup
from .postfix_harness import (
    PostfixInstance,
    Sink,
    grant_postfix_group,
    need_postfix,
    running_postfix,
    socket_directory,
)
from .server_thread import server_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _postfix_available() -> None:
    need_postfix()  # skips on a dev box without Postfix; fails in CI


SENDER = "news@sender.example"
CANARY = "canary-zq7x@example.org"
REJECTED_UNSUBSCRIBE = b"Recipient suppressed (unsubscribe)"


@pytest.fixture(scope="module")
def lookup() -> MemoryLookup:
    store = MemoryLookup()
    for address in ("gone@example.org", "gone2@example.org", "gone3@example.org", CANARY):
        store.suppress(address, "unsubscribe")
    return store


@pytest.fixture(autouse=True)
def store_back_up(lookup: MemoryLookup) -> Iterator[None]:
    yield
    lookup.unavailable = False


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postfix(
    _postfix_available: None, lookup: MemoryLookup, sink: Sink
) -> Iterator[PostfixInstance]:
    with contextlib.ExitStack() as stack:
        sockets = stack.enter_context(socket_directory())
        policy_socket, socketmap_socket = sockets / "policy.sock", sockets / "socketmap.sock"
        server = stack.enter_context(
            server_in_thread(
                lookup,
                listen="127.0.0.1:0",
                socketmap_listen="127.0.0.1:0",
                unix=str(policy_socket),
                socketmap_unix=str(socketmap_socket),
            )
        )
        assert server.bound.policy is not None
        assert server.bound.socketmap is not None
        grant_postfix_group(policy_socket, socketmap_socket)
        yield stack.enter_context(
            running_postfix(
                policy_port=server.bound.policy[1],
                socketmap_port=server.bound.socketmap[1],
                sink_port=sink.port,
                policy_socket=policy_socket,
                socketmap_socket=socketmap_socket,
            )
        )


def message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "undisclosed-recipients:;"
    msg["Subject"] = subject
    msg.set_content("Hello from the mailvault e2e test.\n")
    return msg


def send(port: int, recipients: list[str], subject: str) -> dict[str, tuple[int, bytes]]:
    """Send one message; returns the refused recipients (all refused raises, as smtplib does)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(SENDER, recipients, message(subject).as_string())


def refused_all(port: int, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(port, recipients, "refused")
    refused: dict[str, tuple[int, bytes]] = caught.value.recipients
    return refused


def never_delivered(sink: Sink, address: str, *, settle: float = 1.0) -> bool:
    time.sleep(settle)  # give a wrongly accepted message time to arrive
    return address not in sink.recipients()


def test_one_message_suppressed_recipient_refused_other_delivered(
    postfix: PostfixInstance, sink: Sink
) -> None:
    refused = send(postfix.smtp_port, ["gone@example.org", "ok1@example.org"], "mixed")

    code, text = refused["gone@example.org"]
    assert code == 550
    assert b"5.7.1" in text
    assert REJECTED_UNSUBSCRIBE in text
    assert "ok1@example.org" not in refused
    assert sink.wait_for_recipient("ok1@example.org")
    assert "gone@example.org" not in sink.recipients()
    assert postfix.wait_for_log(r"NOQUEUE: reject: RCPT .* 550 5\.7\.1 <gone@example\.org>")


def test_separate_messages(postfix: PostfixInstance, sink: Sink) -> None:
    refused = refused_all(postfix.smtp_port, ["gone@example.org"])
    assert refused["gone@example.org"][0] == 550

    assert send(postfix.smtp_port, ["ok2@example.org"], "separate") == {}
    assert sink.wait_for_recipient("ok2@example.org")
    assert never_delivered(sink, "gone@example.org", settle=0)


def test_a_new_suppression_applies_to_the_next_message(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup
) -> None:
    assert send(postfix.smtp_port, ["later@example.org"], "before") == {}
    assert sink.wait_for_recipient("later@example.org")

    lookup.suppress("later@example.org", "complaint")

    refused = refused_all(postfix.smtp_port, ["later@example.org"])
    code, text = refused["later@example.org"]
    assert (code, b"Recipient suppressed (complaint)" in text) == (550, True)
    time.sleep(1)
    delivered = [m for m in sink.messages if "later@example.org" in m.rcpt_tos]
    assert len(delivered) == 1  # the first message only


def test_store_unavailable_defers_at_rcpt_and_nothing_is_delivered(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup
) -> None:
    lookup.unavailable = True
    refused = refused_all(postfix.smtp_port, ["waiting@example.org", "gone@example.org"])
    for address in ("waiting@example.org", "gone@example.org"):
        code, text = refused[address]
        assert code == 450
        assert text.startswith(b"4.7.1 ")
        assert b"Suppression list unavailable" in text
    assert never_delivered(sink, "waiting@example.org")
    assert not any(
        "waiting@example.org" in str(entry.get("recipients")) for entry in postfix.queue()
    )

    lookup.unavailable = False  # the client's retry goes through once the store is back
    assert retried_until_accepted(postfix.smtp_port, "waiting@example.org") == {}
    assert sink.wait_for_recipient("waiting@example.org")


def retried_until_accepted(
    port: int, recipient: str, *, within: float = 60.0
) -> dict[str, tuple[int, bytes]]:
    """Send as an SMTP client retries a deferred recipient: again, a second later. Postfix may
    answer from a lookup failure it resolved during the outage for a little while (451 4.3.0,
    from the transport_maps lookup of that same address); every answer until the message goes
    through must be a temporary one, never a refusal."""
    deadline = time.monotonic() + within
    while True:
        try:
            return send(port, [recipient], "retry")
        except smtplib.SMTPRecipientsRefused as caught:
            code, _ = caught.recipients[recipient]
            if not 400 <= code < 500 or time.monotonic() > deadline:
                raise  # refused for good, or still deferred after the time a client would wait
            time.sleep(1)


def test_policy_service_down_defers_through_default_action(
    postfix: PostfixInstance, sink: Sink
) -> None:
    # The main.cf line from docs/postfix.md, pointed at a port where nothing listens.
    refused = refused_all(postfix.dead_policy_smtp_port, ["nobody-home@example.org"])
    code, text = refused["nobody-home@example.org"]
    assert code == 450
    assert text.startswith(b"4.7.1 ")
    assert postfix.wait_for_log(r"warning: problem talking to server 127\.0\.0\.1:\d+")
    assert never_delivered(sink, "nobody-home@example.org")


def test_socketmap_check_recipient_access(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup
) -> None:
    refused = send(postfix.socketmap_smtp_port, ["gone2@example.org", "ok3@example.org"], "sm")
    code, text = refused["gone2@example.org"]
    assert code == 550
    assert b"5.7.1" in text
    assert REJECTED_UNSUBSCRIBE in text
    assert sink.wait_for_recipient("ok3@example.org")

    lookup.unavailable = True
    refused = refused_all(postfix.socketmap_smtp_port, ["ok4@example.org"])
    code, text = refused["ok4@example.org"]
    assert (code, text[:6]) == (451, b"4.3.0 ")  # Postfix's reply to a table lookup error
    assert never_delivered(sink, "ok4@example.org")
    assert never_delivered(sink, "gone2@example.org", settle=0)


@pytest.mark.parametrize("protocol", ["policy", "socketmap"])
def test_the_checks_work_over_unix_sockets(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup, protocol: str
) -> None:
    port = (
        postfix.unix_policy_smtp_port if protocol == "policy" else postfix.unix_socketmap_smtp_port
    )
    kept = f"ok-unix-{protocol}@example.org"
    refused = send(port, ["gone3@example.org", kept], f"over a Unix socket ({protocol})")
    code, text = refused["gone3@example.org"]
    assert (code, REJECTED_UNSUBSCRIBE in text) == (550, True)
    assert kept not in refused
    assert sink.wait_for_recipient(kept)
    assert never_delivered(sink, "gone3@example.org", settle=0)


def test_transport_maps_stop_mail_injected_with_sendmail(
    postfix: PostfixInstance, sink: Sink
) -> None:
    # sendmail → postdrop → pickup never passes smtpd's restrictions; routing still asks us.
    postfix.sendmail(
        sender=SENDER, recipients=["gone3@example.org", "ok5@example.org"], message=message("cli")
    )

    assert sink.wait_for_recipient("ok5@example.org")
    bounced = postfix.wait_for_log(
        r"to=<gone3@example\.org>, relay=none, .*dsn=5\.7\.1, status=bounced "
        r"\(Recipient suppressed \(unsubscribe\)\)"
    )
    assert bounced, postfix.maillog()[-2000:]
    # The sender is told, through the same relay: a bounce from <> to the sender.
    assert sink.wait_for(
        lambda msgs: any(
            m.mail_from in ("", "<>") and SENDER in m.rcpt_tos and b"gone3@" in m.content
            for m in msgs
        ),
        timeout=15,
    )
    assert "gone3@example.org" not in sink.recipients()


def test_transport_maps_keep_mail_queued_while_the_store_is_down(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup
) -> None:
    lookup.unavailable = True
    postfix.sendmail(sender=SENDER, recipients=["queued@example.org"], message=message("q"))
    assert postfix.wait_for_log(r"to=<queued@example\.org>.*status=deferred")
    assert never_delivered(sink, "queued@example.org", settle=0.5)

    # Once the store is back the mail goes out. Postfix's queue manager keeps the failed
    # resolution for a short while, so restart it and ask for a queue run rather than wait.
    lookup.unavailable = False
    postfix.reload()
    postfix.flush()
    assert sink.wait_for_recipient("queued@example.org", timeout=20), postfix.maillog()[-3000:]


def test_canary_address_never_in_our_logs(
    postfix: PostfixInstance, sink: Sink, lookup: MemoryLookup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vault")
    canary_ok = "canary-zq7x@example.net"
    refused = send(postfix.smtp_port, [CANARY, canary_ok], "canary")
    assert refused[CANARY][0] == 550
    postfix.sendmail(sender=SENDER, recipients=[CANARY], message=message("canary"))
    assert sink.wait_for_recipient(canary_ok)
    assert postfix.wait_for_log(r"to=<canary-zq7x@example\.org>.*status=bounced")

    assert "rcpt_domain=example.org decision=suppressed reason=unsubscribe" in caplog.text
    assert "rcpt_domain=example.net decision=allowed" in caplog.text
    assert "canary-zq7x" not in caplog.text
