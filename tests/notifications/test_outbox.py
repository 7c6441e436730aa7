"""The outbox drain: once per message, rate limits, backoff, permanent failures, a sender killed mid-way."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from core.settings import get_settings
from notifications import channels
from notifications.channels import PermanentChannelError, TransientChannelError
from notifications.outbox import backoff, drain, failed_messages
from notifications.recipients import Address
from notifications.render import Rendered
from tests.factories import make_policy
from tests.notifications.helpers import T0, queue, row, settings

ROOT = Path(__file__).resolve().parents[2]


class Recording:
    """A channel that honours the key and can be told to fail."""

    def __init__(self, name: str = "sms", fail: Exception | None = None) -> None:
        self.name, self.fail = name, fail
        self.delivered: dict[str, Rendered] = {}
        self.calls = 0

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        self.delivered.setdefault(key, rendered)
        return f"rec:{key}"


@pytest.fixture
def recording():  # type: ignore[no-untyped-def]
    channel = Recording()
    channels.register("sms", channel)
    yield channel
    channels.register("sms", None)


def test_sends_through_the_default_file_channel_once(session: Session) -> None:
    oid = queue(session)
    report = drain(as_of=T0, settings=get_settings())
    assert report.rows() == [{"channel": "sms", "sent": 1, "retried": 0, "failed": 0, "waiting": 0}]
    path = get_settings().outbox_folder / "sms" / f"{oid}.txt"
    assert path.read_text(encoding="utf-8") == (
        f"To: 13800000001\nSubject: \nOutbox-Id: {oid}\n\n"
        "【康泰人寿】张*您好,您的投诉(编号31)处理进展:已核实。如有疑问请致电95519。\n"
    )
    sent = row(session, oid)
    assert (sent.state, sent.attempts, sent.sent_at, sent.delivery_ref) == ("sent", 1, T0, str(path))
    # a second run for the same moment changes nothing
    assert drain(as_of=T0, settings=get_settings()).rows() == []
    assert row(session, oid).attempts == 1


def test_a_message_not_due_yet_waits(session: Session, recording: Recording) -> None:
    oid = queue(session, now=T0 + timedelta(minutes=1))  # next_try_at = created_at
    assert drain(as_of=T0, settings=get_settings()).rows() == []
    assert row(session, oid).state == "pending" and recording.calls == 0
    assert drain(as_of=T0 + timedelta(minutes=1), settings=get_settings()).total("sent") == 1


def test_rate_limit_per_channel_per_minute(session: Session, recording: Recording) -> None:
    ids = [queue(session) for _ in range(5)]
    internal = queue(session, channel="internal", template="revisit_late", recipient="branch:SH01",
                     context={"case_id": 7, "policy_no": "P1", "branch": "SH01", "cooling_off_end": "2026-10-08"})
    s = settings(outbox_rate_per_minute={"sms": 2, "internal": 10}, outbox_batch_size=1)
    first = drain(as_of=T0, settings=s)
    assert {r["channel"]: (r["sent"], r["waiting"]) for r in first.rows()} == {"sms": (2, 3), "internal": (1, 0)}
    assert [row(session, i).state for i in ids] == ["sent", "sent", "pending", "pending", "pending"]
    assert row(session, internal).state == "sent"
    # the window is (as_of − 60 s, as_of]: 59 s later both sends still count, at 60 s they do not
    assert drain(as_of=T0 + timedelta(seconds=59), settings=s).total("sent") == 0
    assert drain(as_of=T0 + timedelta(seconds=60), settings=s).total("sent") == 2
    assert drain(as_of=T0 + timedelta(seconds=120), settings=s).total("sent") == 1
    assert len(recording.delivered) == 5


def test_transient_errors_back_off_exponentially_then_fail(session: Session, recording: Recording) -> None:
    s = settings(outbox_max_attempts=4, outbox_backoff_seconds=60, outbox_backoff_max_seconds=3600)
    recording.fail = TransientChannelError("gateway 503")
    oid = queue(session)
    at = T0
    for attempt, delay in ((1, 60), (2, 120), (3, 240)):
        report = drain(as_of=at, settings=s)
        assert report.total("retried") == 1
        r = row(session, oid)
        assert (r.state, r.attempts, r.next_try_at, r.last_error) == ("pending", attempt, at + timedelta(seconds=delay),
                                                                       "gateway 503")
        # one second early: not tried
        assert drain(as_of=r.next_try_at - timedelta(seconds=1), settings=s).rows() == []
        at = r.next_try_at
    report = drain(as_of=at, settings=s)  # the 4th attempt is the last
    assert report.total("failed") == 1
    r = row(session, oid)
    assert (r.state, r.attempts) == ("failed", 4) and r.last_error == "gave up after 4 attempts: gateway 503"
    assert recording.calls == 4
    assert drain(as_of=at + timedelta(days=1), settings=s).rows() == []  # never retried again
    assert recording.calls == 4


def test_backoff_is_capped() -> None:
    s = settings(outbox_backoff_seconds=60, outbox_backoff_max_seconds=3600)
    assert [backoff(n, s).total_seconds() for n in (1, 2, 6, 7, 20)] == [60, 120, 1920, 3600, 3600]


def test_recovers_after_a_transient_error(session: Session, recording: Recording) -> None:
    recording.fail = TransientChannelError("timeout")
    oid = queue(session)
    drain(as_of=T0, settings=get_settings())
    recording.fail = None
    assert drain(as_of=T0 + timedelta(seconds=60), settings=get_settings()).total("sent") == 1
    r = row(session, oid)
    assert (r.state, r.attempts, r.last_error) == ("sent", 2, None)


def test_permanent_failure_is_marked_visible_and_not_retried(session: Session, recording: Recording) -> None:
    recording.fail = PermanentChannelError("number unknown to the carrier")
    oid = queue(session)
    report = drain(as_of=T0, settings=get_settings())
    assert report.total("failed") == 1 and recording.calls == 1
    assert report.failures[0]["id"] == oid and "number unknown" in report.failures[0]["error"]
    assert f"| {oid} | sms | complaint_progress | phone:13800000001 |" in report.markdown()
    assert [m.id for m in failed_messages(session)] == [oid]
    session.rollback()
    assert row(session, oid).last_error == "permanent: number unknown to the carrier"
    assert drain(as_of=T0 + timedelta(hours=1), settings=get_settings()).rows() == []
    assert recording.calls == 1


def test_a_missing_variable_fails_the_message_loudly_and_sends_nothing(session: Session, recording: Recording) -> None:
    oid = queue(session, context={"complaint_id": 31, "note": "已核实"})  # no complainant_name
    report = drain(as_of=T0, settings=get_settings())
    assert report.total("failed") == 1 and recording.calls == 0
    assert "'complainant_name' is undefined" in row(session, oid).last_error


def test_a_policyholder_without_a_phone_cannot_get_an_sms(session: Session, recording: Recording) -> None:
    policy = make_policy(session, holder_phone=None)
    session.commit()
    oid = queue(session, template="birthday_greeting", recipient=f"policy:{policy.policy_no}",
                context={"customer_name": "张丽"})
    drain(as_of=T0, settings=get_settings())
    r = row(session, oid)
    assert r.state == "failed" and "has no policyholder address for sms" in r.last_error


def test_policy_recipient_gets_the_policyholder_phone(session: Session, recording: Recording) -> None:
    policy = make_policy(session, holder_phone="13912345678")
    session.commit()
    oid = queue(session, template="birthday_greeting", recipient=f"policy:{policy.policy_no}",
                context={"customer_name": "张丽"})
    drain(as_of=T0, settings=get_settings())
    assert row(session, oid).state == "sent"
    assert "张*" in recording.delivered[str(oid)].body


# --- the kill test -----------------------------------------------------------------------------------

KILLED_SENDER = """
import os, sys
from datetime import datetime
from core.settings import get_settings
from notifications import outbox

def die(*args, **kwargs):
    os._exit(137)  # the process dies after the channel delivered, before the row is marked sent

outbox.mark_sent = die
outbox.drain(as_of=datetime.fromisoformat(sys.argv[1]), settings=get_settings())
"""


def test_a_sender_killed_between_sent_and_marked_sent_neither_loses_nor_doubles(session: Session) -> None:
    # a row that cannot be rendered (no letter template for it) fails on the way and blocks nothing
    unrenderable = queue(session, channel="letter", template="revisit_late", recipient="branch:SH01")
    oid, second, third = queue(session), queue(session), queue(session)
    proc = subprocess.run([sys.executable, "-c", KILLED_SENDER, T0.isoformat()], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137, proc.stderr
    folder = get_settings().outbox_folder / "sms"
    delivered = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".tmp"))
    assert delivered == [f"{oid}.txt"]  # the channel got the first message, then the sender died …
    first = (folder / f"{oid}.txt").stat()
    r = row(session, oid)
    assert r.state == "pending" and r.sent_at is None  # … before marking it
    claim = get_settings().outbox_claim_seconds
    assert r.claimed_until == T0 + timedelta(seconds=claim)
    assert row(session, second).claimed_until == T0 + timedelta(seconds=claim)  # the whole batch was claimed

    # a new run before the dead sender's claim lapses leaves the batch alone
    assert drain(as_of=T0 + timedelta(seconds=claim - 1), settings=get_settings()).total("sent") == 0
    # after it, everything is sent; the first goes again under the same key and the channel adds nothing
    report = drain(as_of=T0 + timedelta(seconds=claim), settings=get_settings())
    assert report.total("sent") == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{i}.txt" for i in (oid, second, third))
    again = (folder / f"{oid}.txt").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert [row(session, i).state for i in (oid, second, third)] == ["sent"] * 3
    assert row(session, oid).delivery_ref == str(folder / f"{oid}.txt")
    assert row(session, unrenderable).state == "failed"


def test_a_failed_message_is_listed_and_can_be_queued_again(session: Session, recording: Recording,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main

    recording.fail = PermanentChannelError("blocked number")
    oid = queue(session)
    drain(as_of=T0, settings=get_settings())
    assert main(["outbox", "failed"]) == 0
    assert f"{oid}\tsms\tcomplaint_progress\tphone:13800000001\tattempts=1\tpermanent: blocked number" in capsys.readouterr().out
    assert main(["outbox", "retry", str(oid)]) == 0
    assert main(["outbox", "retry", str(oid)]) == 2  # no longer failed
    recording.fail = None
    from core.clock import now  # the CLI queues it again for the moment it runs

    assert drain(as_of=now(), settings=get_settings()).total("sent") == 1
    assert row(session, oid).attempts == 1
