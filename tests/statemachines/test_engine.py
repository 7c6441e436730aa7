"""The one transition engine: version checks, refusals that change nothing, the bulk path."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import UTC
from models import AuditEntry, OutboxMessage, WorkOrder
from statemachines.engine import (
    CaseNotFound,
    EventNotAllowed,
    Message,
    Rejected,
    StaleVersion,
    UnknownEvent,
    apply_bulk,
    apply_event,
)
from tests.factories import make_work_order

NOW = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)


def _counts(session: Session) -> tuple[int, int]:
    audits = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    outbox = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    return audits, outbox


def test_event_moves_state_bumps_version_audits_and_queues_message(session: Session) -> None:
    order = make_work_order(session)
    session.commit()
    result = apply_event(
        session,
        kind="work_order",
        case_id=order.id,
        event="start",
        actor="user:branch1",
        now=NOW,
        expected_version=1,
        payload={"note": "calling the agent"},
        messages=[Message("internal", "work_order_notice", "branch:SH01", {"order_id": order.id})],
    )
    assert (result.source, result.target, result.version) == ("open", "in_progress", 2)
    session.expire_all()
    stored = session.get(WorkOrder, order.id)
    assert stored.state == "in_progress" and stored.version == 2
    audit = session.execute(select(AuditEntry)).scalars().one()
    assert (audit.case_kind, audit.case_id, audit.version, audit.event) == ("work_order", order.id, 2, "start")
    assert (audit.source, audit.target, audit.actor) == ("open", "in_progress", "user:branch1")
    assert audit.payload == {"note": "calling the agent"}
    assert audit.at == NOW
    outbox = session.execute(select(OutboxMessage)).scalars().one()
    assert outbox.template == "work_order_notice" and outbox.case_id == order.id and outbox.state == "pending"


@pytest.mark.parametrize(
    ("event", "payload", "expected_version", "error"),
    [
        ("accept", {}, 1, EventNotAllowed),  # not from open
        ("start", {}, 7, StaleVersion),  # stale version
        ("submit", {}, 1, Rejected),  # validator: needs a result
        ("fly", {}, 1, UnknownEvent),
    ],
)
def test_refused_event_changes_nothing(session: Session, event, payload, expected_version, error) -> None:
    order = make_work_order(session)
    session.commit()
    with pytest.raises(error):
        apply_event(
            session,
            kind="work_order",
            case_id=order.id,
            event=event,
            actor="user:x",
            now=NOW,
            expected_version=expected_version,
            payload=payload,
            messages=[Message("sms", "t", "138")],
        )
    session.expire_all()
    stored = session.get(WorkOrder, order.id)
    assert (stored.state, stored.version) == ("open", 1)
    assert _counts(session) == (0, 0)


def test_not_allowed_lists_the_allowed_events(session: Session) -> None:
    order = make_work_order(session)
    session.commit()
    with pytest.raises(EventNotAllowed) as info:
        apply_event(session, kind="work_order", case_id=order.id, event="accept", actor="u", now=NOW)
    assert info.value.allowed == ["cancel", "mark_overdue", "start", "submit", "withdraw"]
    assert "allowed events: cancel, mark_overdue, start, submit, withdraw" in str(info.value)


def test_rejection_reason_is_readable(session: Session) -> None:
    order = make_work_order(session, state="overdue")
    session.commit()
    with pytest.raises(Rejected) as info:
        apply_event(session, kind="work_order", case_id=order.id, event="explain", actor="u", now=NOW)
    assert "explanation" in info.value.reason


def test_missing_case(session: Session) -> None:
    with pytest.raises(CaseNotFound):
        apply_event(session, kind="work_order", case_id=999, event="start", actor="u", now=NOW)


def test_bulk_applies_timed_event_by_state_with_one_audit_row_each(session: Session) -> None:
    open_ = [make_work_order(session) for _ in range(3)]
    started = make_work_order(session, state="in_progress", version=4)
    done = make_work_order(session, state="accepted")
    session.commit()
    ids = [o.id for o in open_] + [started.id, done.id]
    result = apply_bulk(
        session, kind="work_order", event="mark_overdue", case_ids=ids, actor="flow:revisit-sweep", now=NOW,
        flow_run_id="run-1",
    )
    session.commit()
    assert sorted((t.case_id, t.source, t.version) for t in result) == sorted(
        [(o.id, "open", 2) for o in open_] + [(started.id, "in_progress", 5)]
    )
    session.expire_all()
    assert session.get(WorkOrder, done.id).state == "accepted"
    assert all(session.get(WorkOrder, i).state == "overdue" for i in ids[:4])
    audits = session.execute(select(AuditEntry).order_by(AuditEntry.case_id)).scalars().all()
    assert [(a.case_id, a.version, a.target, a.flow_run_id) for a in audits] == sorted(
        [(o.id, 2, "overdue", "run-1") for o in open_] + [(started.id, 5, "overdue", "run-1")]
    )
    # a second run changes nothing: those cases are no longer in a source state
    again = apply_bulk(session, kind="work_order", event="mark_overdue", case_ids=ids, actor="f", now=NOW)
    session.commit()
    assert again == [] and _counts(session)[0] == 4


def test_bulk_refuses_non_timed_events(session: Session) -> None:
    with pytest.raises(ValueError, match="not a timed event"):
        apply_bulk(session, kind="work_order", event="accept", case_ids=[1], actor="f", now=NOW)


def _race(engine, case_id: int, threads: int) -> tuple[list[int], list[str]]:
    """Every thread sends the same-version event; returns the winners' versions and the losers' errors."""
    barrier = threading.Barrier(threads)
    wins: list[int] = []
    losses: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            current = s.get(WorkOrder, case_id)
            version, state = current.version, current.state
            event = "resume" if state == "returned" else "submit" if state == "in_progress" else "return_to_branch"
            payload = {"result": {"n": n}} if event == "submit" else {"reason": f"r{n}"}
            s.rollback()  # end the read transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE)
            barrier.wait()
            try:
                r = apply_event(
                    s, kind="work_order", case_id=case_id, event=event, actor=f"t{n}", now=NOW,
                    expected_version=version, payload=payload,
                )
                with lock:
                    wins.append(r.version)
            except (StaleVersion, EventNotAllowed) as exc:
                with lock:
                    losses.append(type(exc).__name__)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return wins, losses


@pytest.mark.postgres
def test_twenty_writers_on_postgres_one_winner_per_version(pg_engine, pg_session: Session) -> None:
    order = make_work_order(pg_session, state="in_progress")
    pg_session.commit()
    all_wins: list[int] = []
    for _round in range(5):
        wins, losses = _race(pg_engine, order.id, 20)
        assert len(wins) == 1, (wins, losses)
        assert len(losses) == 19 and set(losses) == {"StaleVersion"}
        all_wins += wins
    pg_session.expire_all()
    final = pg_session.get(WorkOrder, order.id)
    assert final.version == 6 and all_wins == [2, 3, 4, 5, 6]
    versions = pg_session.execute(
        select(AuditEntry.version).where(AuditEntry.case_id == order.id).order_by(AuditEntry.version)
    ).scalars().all()
    assert versions == [2, 3, 4, 5, 6]  # no gap, no duplicate


def test_concurrent_writers_on_sqlite_one_winner(engine, session: Session) -> None:
    order = make_work_order(session, state="in_progress")
    session.commit()
    wins, losses = _race(engine, order.id, 8)
    assert len(wins) == 1 and len(losses) == 7
    versions = session.execute(select(AuditEntry.version)).scalars().all()
    assert versions == [2]


@pytest.mark.postgres
def test_bulk_on_postgres(pg_session: Session) -> None:
    orders = [make_work_order(pg_session) for _ in range(5)]
    pg_session.commit()
    result = apply_bulk(
        pg_session, kind="work_order", event="mark_overdue", case_ids=[o.id for o in orders], actor="f", now=NOW
    )
    pg_session.commit()
    assert len(result) == 5
    assert pg_session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 5
