"""The revisit sweep (SPEC §5) across National Day week 2026: 09-25 Mid-Autumn, 10-01..10-07 holidays,
Saturday 10-10 a make-up working day. A policy signed 2026-09-16 with 15 days cools off until 10-08
(10-01 is a holiday: 节假日顺延), so with the default ladder (letter / on-site needs 3 working days,
"near" is 2 working days) its deadlines are: ladder jump 09-28 00:00, near 09-29 00:00, expired at the end
of 10-08 (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import UTC
from core.settings import get_settings
from domain import revisit_rules as rules
from domain import sweep
from domain.revisits import Ctx
from models import AuditEntry, OutboxMessage, RevisitCase, WorkOrder
from tests.domain.test_attempts import CAL, end_of, sh
from tests.factories import make_revisit, make_work_order

END = date(2026, 10, 8)


def run(session: Session, now: datetime, **settings_over: Any) -> sweep.SweepReport:
    session.rollback()  # end the test's read: on SQLite every transaction takes the write lock
    settings = get_settings().model_copy(update=settings_over) if settings_over else get_settings()
    report = sweep.run_sweep(session, ctx=Ctx(now=now, actor="flow:revisit-sweep", settings=settings, calendar=CAL))
    session.expire_all()
    return report


def audits(session: Session, kind: str = "revisit", case_id: int | None = None) -> list[tuple[int, str, str, str]]:
    stmt = select(AuditEntry.case_id, AuditEntry.event, AuditEntry.source, AuditEntry.target).where(
        AuditEntry.case_kind == kind
    )
    if case_id is not None:
        stmt = stmt.where(AuditEntry.case_id == case_id)
    return [tuple(r) for r in session.execute(stmt.order_by(AuditEntry.id)).all()]


def outbox(session: Session) -> list[tuple[str, str, str]]:
    return [
        tuple(r)
        for r in session.execute(
            select(OutboxMessage.template, OutboxMessage.recipient, OutboxMessage.dedupe_key).order_by(OutboxMessage.id)
        ).all()
    ]


def count(session: Session, model: Any) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


# --- the plan, pure ------------------------------------------------------------------------------------------


def test_cooling_off_deadlines_across_national_day() -> None:
    plan = rules.cooling_off_deadlines(END, CAL, get_settings())
    assert plan == [
        ("ladder_jump", sh(date(2026, 9, 28), 0)),  # 09-29, 09-30, 10-08 left: 3
        ("cooling_off_deadline_near", sh(date(2026, 9, 29), 0)),  # 09-30, 10-08 left: 2
        ("cooling_off_expired", sh(END + timedelta(days=1), 0)),
    ]


def test_make_up_saturday_counts_as_a_working_day_left() -> None:
    # ends Monday 10-12: the last working days are 10-12, Saturday 10-10 (调休) and 10-09
    plan = dict(rules.cooling_off_deadlines(date(2026, 10, 12), CAL, get_settings()))
    assert plan["ladder_jump"] == sh(date(2026, 10, 8), 0)
    assert plan["cooling_off_deadline_near"] == sh(date(2026, 10, 9), 0)


# --- cooling-off deadlines through the sweep -----------------------------------------------------------------


def test_cooling_off_ladder_near_and_expiry_over_the_holiday(session: Session) -> None:
    calling = make_revisit(session, state="calling", cooling_off_end=END)
    problem = make_revisit(session, state="problem", cooling_off_end=END, classification="problem")
    closed = make_revisit(session, state="closed_success", cooling_off_end=END)
    unsigned = make_revisit(session, state="scheduled", cooling_off_end=None)
    session.commit()
    ids = (calling.id, problem.id, closed.id, unsigned.id)

    # 23:59 the evening before the jump: the cases get their first deadline, nothing fires
    report = run(session, sh(date(2026, 9, 27), 23, 59))
    assert report.armed == 2 and not report.counts
    case = session.get(RevisitCase, calling.id)
    assert (case.deadline_event, case.next_deadline_at) == ("ladder_jump", sh(date(2026, 9, 28), 0))
    assert session.get(RevisitCase, closed.id).next_deadline_at is None
    assert session.get(RevisitCase, unsigned.id).deadline_event is None

    # 00:00 on 09-28: the calling case jumps to letter / on-site; the problem case only moves its pointer
    report = run(session, sh(date(2026, 9, 28), 0))
    assert dict(report.counts) == {("revisit", "ladder_jump"): 1}
    assert session.get(RevisitCase, calling.id).state == "letter_or_onsite"
    assert audits(session, case_id=calling.id) == [(calling.id, "ladder_jump", "calling", "letter_or_onsite")]
    assert audits(session, case_id=problem.id) == []
    assert session.get(RevisitCase, problem.id).deadline_event == "cooling_off_deadline_near"
    order = session.execute(select(WorkOrder).where(WorkOrder.case_id == calling.id)).scalars().one()
    assert (order.kind, order.due_at) == ("failed_followup", end_of(date(2026, 9, 29)))  # 1 working day
    assert outbox(session) == [
        ("work_order_notice", "branch:SH01", f"work_order:{order.id}:created"),
        ("revisit_letter", f"policy:{calling.policy_no}", f"revisit:{calling.id}:letter:v2"),
        ("revisit_escalation", "supervisor:SH01", f"revisit:{calling.id}:ladder_jump:supervisor"),
        ("revisit_escalation", "branch:SH01", f"revisit:{calling.id}:ladder_jump:branch"),
    ]

    # the same moment again changes nothing
    before = (count(session, AuditEntry), count(session, OutboxMessage), count(session, WorkOrder))
    assert not run(session, sh(date(2026, 9, 28), 0)).counts
    assert (count(session, AuditEntry), count(session, OutboxMessage), count(session, WorkOrder)) == before

    # 09-29 00:00: two working days left for both open cases: priority up, supervisor and branch told
    report = run(session, sh(date(2026, 9, 29), 0))
    assert dict(report.counts) == {("revisit", "cooling_off_deadline_near"): 2}
    assert {session.get(RevisitCase, i).priority for i in (calling.id, problem.id)} == {10}
    assert session.get(RevisitCase, problem.id).state == "problem"

    # the whole holiday week passes; 23:59 on 10-08 is still inside the period
    report = run(session, sh(END, 23, 59))
    assert ("revisit", "cooling_off_expired") not in report.counts
    # the end of 10-08: both open cases are late, the supervisor hears of each
    report = run(session, end_of(END) + timedelta(microseconds=1))
    assert report.counts[("revisit", "cooling_off_expired")] == 2
    assert [session.get(RevisitCase, i).late for i in ids] == [True, True, False, False]
    late_notes = [o for o in outbox(session) if o[0] == "revisit_late"]
    assert sorted(late_notes) == sorted(
        [("revisit_late", "supervisor:SH01", f"revisit:{i}:late:supervisor") for i in (calling.id, problem.id)]
    )
    assert session.get(RevisitCase, problem.id).deadline_event == sweep.DONE
    assert not run(session, end_of(END) + timedelta(days=3)).counts  # nothing fires twice


def test_a_case_learnt_late_catches_up_every_deadline_in_one_run(session: Session) -> None:
    case = make_revisit(session, state="calling", cooling_off_end=END)
    session.commit()
    report = run(session, sh(date(2026, 10, 9), 9))
    assert [e for _, e, _, _ in audits(session, case_id=case.id)] == [
        "ladder_jump", "cooling_off_deadline_near", "cooling_off_expired"
    ]
    assert report.counts[("revisit", "cooling_off_expired")] == 1
    assert session.get(RevisitCase, case.id).late is True


# --- the attempt window ----------------------------------------------------------------------------------------


def test_attempt_window_expires_after_three_calendar_days(session: Session) -> None:
    far = date(2026, 10, 26)
    first = sh(date(2026, 10, 12), 10)
    plain = make_revisit(session, state="calling", first_attempt_at=first, cooling_off_end=far)
    recalled = make_revisit(session, state="recall", first_attempt_at=first, cooling_off_end=far, recall_count=1)
    tight = make_revisit(session, state="calling", first_attempt_at=first, cooling_off_end=date(2026, 10, 20))
    booked = make_revisit(session, state="appointment", first_attempt_at=first, cooling_off_end=far,
                          appointment_at=sh(date(2026, 10, 16), 10))
    session.commit()

    # the window is 10-12, 10-13, 10-14: at 23:59 on the 14th it is still open
    assert ("revisit", "attempt_window_expired") not in run(session, sh(date(2026, 10, 14), 23, 59)).counts
    report = run(session, sh(date(2026, 10, 15), 0))
    assert report.counts[("revisit", "attempt_window_expired")] == 3
    plain_now = session.get(RevisitCase, plain.id)
    assert (plain_now.state, plain_now.classification, plain_now.verification_reason) == (
        "verification", "verification", "unreachable"
    )
    order = session.execute(select(WorkOrder).where(WorkOrder.case_id == plain.id)).scalars().one()
    assert (order.kind, order.due_at) == ("verification", end_of(date(2026, 10, 20)))  # 3 working days
    # the branch verified once already and HQ's re-call failed too: letter / on-site
    assert [e for _, e, _, _ in audits(session, case_id=recalled.id)] == ["attempt_window_expired", "ladder_jump"]
    # 10-15 → 10-20 leaves 3 working days: no room for verification (3) + re-call (1) + letter (3)
    assert session.get(RevisitCase, tight.id).state == "letter_or_onsite"
    assert {o.kind for o in session.execute(select(WorkOrder).where(WorkOrder.case_id != plain.id)).scalars()} == {
        "failed_followup"
    }
    assert session.get(RevisitCase, booked.id).state == "appointment"  # the customer's own time stands
    assert report.work_orders_issued == {"verification": 1, "failed_followup": 2}


# --- work orders ---------------------------------------------------------------------------------------------


def test_overdue_then_quality_list_across_the_holiday(session: Session) -> None:
    # due at the end of Wednesday 09-30; the explanation day is the next working day, 10-08
    order, explained, done = (
        make_work_order(session, due_at=end_of(date(2026, 9, 30)), state=state,
                        case=make_revisit(session, state="verification", cooling_off_end=None))
        for state in ("open", "open", "submitted")
    )
    session.commit()

    assert not run(session, end_of(date(2026, 9, 30))).counts  # the last microsecond of the day is in time
    report = run(session, sh(date(2026, 10, 1), 0))
    assert report.counts[("work_order", "mark_overdue")] == 2
    assert report.counts[("revisit", "work_order_overdue")] == 2
    assert session.get(WorkOrder, done.id).state == "submitted"
    assert audits(session, "revisit", order.case_id) == [
        (order.case_id, "work_order_overdue", "verification", "verification")
    ]
    keys = {o[2] for o in outbox(session)}
    assert {f"work_order:{order.id}:overdue:branch", f"work_order:{order.id}:overdue:supervisor"} <= keys

    # the branch explains one in writing (逾期情况书面说明)
    from domain.revisits import send_work_order_event
    from tests.domain.test_attempts import ctx

    session.rollback()
    send_work_order_event(
        session, order_id=explained.id, event="explain", payload={"explanation": "客户出国, 已改约"},
        expected_version=2, ctx=ctx(sh(date(2026, 10, 8), 10), "user:branch-sh01"),
    )
    # 23:59 on 10-08, the explanation day: not yet on the list
    assert ("work_order", "quality_list") not in run(session, sh(date(2026, 10, 8), 23, 59)).counts
    report = run(session, sh(date(2026, 10, 9), 0))
    assert report.counts[("work_order", "quality_list")] == 1
    assert session.get(WorkOrder, order.id).state == "quality_listed"
    assert session.get(WorkOrder, explained.id).state == "explained"
    assert ("work_order_overdue", "supervisor:quality", f"work_order:{order.id}:quality_list") in outbox(session)


# --- a run killed between batches, a batch that fails ----------------------------------------------------------


def _order(session: Session) -> WorkOrder:
    """An open verification order due at the end of 09-30, on a case with no cooling-off deadline of its own."""
    case = make_revisit(session, state="verification", cooling_off_end=None)
    return make_work_order(session, case=case, due_at=end_of(date(2026, 9, 30)))


class Killed(BaseException):
    """The process dies (not an error the sweep could catch)."""


def test_a_run_killed_after_batch_k_is_finished_by_the_next_with_nothing_doubled(session: Session) -> None:
    orders = [_order(session) for _ in range(7)]
    session.commit()
    settings = get_settings().model_copy(update={"sweep_batch_size": 2})
    now = sh(date(2026, 10, 1), 0)

    def die_after_second(step: str, number: int) -> None:
        if step == "overdue" and number == 2:
            raise Killed

    session.rollback()
    with pytest.raises(Killed):
        sweep.run_sweep(session, ctx=Ctx(now=now, actor="flow:x", settings=settings, calendar=CAL),
                        on_batch=die_after_second)
    session.rollback()
    assert count(session, AuditEntry) == 4 * 2  # two batches of two: the order's and the case's audit rows
    session.rollback()
    report = sweep.run_sweep(session, ctx=Ctx(now=now, actor="flow:x", settings=settings, calendar=CAL))
    assert report.counts[("work_order", "mark_overdue")] == 3  # the 7 − 4 left
    per_order = session.execute(
        select(AuditEntry.case_id, func.count()).where(AuditEntry.event == "mark_overdue").group_by(AuditEntry.case_id)
    ).all()
    assert sorted(per_order) == sorted((o.id, 1) for o in orders)
    assert count(session, OutboxMessage) == 7 * 2
    assert session.execute(select(func.count(func.distinct(OutboxMessage.dedupe_key)))).scalar_one() == 14


def test_a_failing_batch_is_reported_and_the_others_still_run(session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    orders = [_order(session) for _ in range(5)]
    session.commit()
    poisoned = orders[2].id
    real = sweep.enqueue

    def enqueue(session: Session, items: list[Any], *, now: datetime) -> int:
        if any(case_id == poisoned for _, kind, case_id in items if kind == "work_order"):
            raise ValueError("recipient unknown")
        return real(session, items, now=now)

    monkeypatch.setattr(sweep, "enqueue", enqueue)
    report = run(session, sh(date(2026, 10, 1), 0), sweep_batch_size=2)
    assert report.counts[("work_order", "mark_overdue")] == 3  # batches 1 and 3 done, batch 2 rolled back
    assert len(report.errors) == 1 and "overdue batch 2" in report.errors[0]
    states = {o.id: session.get(WorkOrder, o.id).state for o in orders}
    assert [states[o.id] for o in orders] == ["overdue", "overdue", "open", "open", "overdue"]


def test_transient_errors_are_told_apart_from_bad_data() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from core.db import is_transient

    assert is_transient(OperationalError("UPDATE", {}, Exception("database is locked")))
    assert is_transient(OperationalError("SELECT", {}, Exception("could not serialize access")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not is_transient(ValueError("bad"))


def _late_message_context(session: Session) -> None:
    case = make_revisit(session, state="calling", cooling_off_end=END)
    session.commit()
    run(session, sh(date(2026, 10, 9), 0))
    late = session.execute(select(OutboxMessage).where(OutboxMessage.template == "revisit_late")).scalars().one()
    assert (late.recipient, late.case_kind, late.case_id, late.state) == ("supervisor:SH01", "revisit", case.id, "pending")
    assert late.context == {"case_id": case.id, "policy_no": case.policy_no, "branch": "SH01",
                            "cooling_off_end": "2026-10-08"}
    escalations = session.execute(
        select(OutboxMessage.recipient, OutboxMessage.context).where(OutboxMessage.template == "revisit_escalation")
    ).all()
    assert sorted(r for r, _ in escalations) == ["branch:SH01", "branch:SH01", "supervisor:SH01", "supervisor:SH01"]
    assert all(c["reason"] and c["case_id"] == case.id for _, c in escalations)


def test_messages_built_by_the_database_carry_the_case_on_sqlite(session: Session) -> None:
    _late_message_context(session)


@pytest.mark.postgres
def test_messages_built_by_the_database_carry_the_case_on_postgresql(pg_session: Session) -> None:
    _late_message_context(pg_session)


def test_a_claim_revisit_past_its_five_working_days_is_late(session: Session) -> None:
    from domain.claim_intake import claims_revisit_intake
    from domain.claim_import import import_claims
    from tests.factories import claim_payload, make_policy

    policy = make_policy(session)
    session.commit()
    # closed Tuesday 09-29: 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12 → its last day is 10-12
    import_claims(session=session, records=[claim_payload(policy.policy_no, claim_no="C9", closed_date="2026-09-29")],
                  actor="user:admin", now=sh(date(2026, 9, 29), 18))
    session.commit()
    claims_revisit_intake(session, ctx=Ctx(now=sh(date(2026, 9, 30), 6, 30), actor="flow:claims", settings=get_settings(),
                                           calendar=CAL))
    session.commit()
    case = session.execute(select(RevisitCase).where(RevisitCase.claim_no == "C9")).scalars().one()
    assert ("revisit", "revisit_deadline_missed") not in run(session, sh(date(2026, 10, 12), 23, 59)).counts
    report = run(session, sh(date(2026, 10, 13), 0))
    assert report.counts[("revisit", "revisit_deadline_missed")] == 1
    case = session.get(RevisitCase, case.id)
    assert (case.late, case.deadline_event, case.next_deadline_at) == (True, sweep.DONE, None)
    late = session.execute(select(OutboxMessage).where(OutboxMessage.template == "revisit_late")).scalars().one()
    assert late.context["claim_no"] == "C9" and late.context["revisit_due_by"] == "2026-10-12"
    assert not run(session, sh(date(2026, 10, 20), 0)).counts


# --- review findings -------------------------------------------------------------------------------------------


def test_a_substandard_success_is_neither_escalated_nor_late(session: Session) -> None:
    case = make_revisit(session, state="substandard", classification="substandard", cooling_off_end=END)
    session.commit()
    report = run(session, sh(date(2026, 10, 9), 0))
    assert not report.counts and not report.late
    now = session.get(RevisitCase, case.id)
    assert (now.late, now.deadline_event, now.next_deadline_at) == (False, sweep.DONE, None)
    assert count(session, OutboxMessage) == 0


def test_a_returned_order_gets_its_working_days_again(session: Session) -> None:
    from domain.revisits import send_work_order_event
    from tests.domain.test_attempts import ctx

    order = _order(session)  # due at the end of 09-30
    session.commit()
    for event, payload, at in (("submit", {"result": {"phone": "13900000000"}}, sh(date(2026, 9, 30), 10)),
                               ("return_to_branch", {"reason": "the number is the agent's"}, sh(date(2026, 10, 9), 10))):
        session.rollback()
        version = session.get(WorkOrder, order.id, populate_existing=True).version
        send_work_order_event(session, order_id=order.id, event=event, payload=payload, expected_version=version,
                              ctx=ctx(at, "user:hq"))
    back = session.get(WorkOrder, order.id, populate_existing=True)
    # returned Fri 10-09: 3 working days → 10-10 (make-up Saturday), 10-12, 10-13
    assert (back.state, back.due_at) == ("returned", end_of(date(2026, 10, 13)))
    assert not run(session, sh(date(2026, 10, 13), 23, 59)).counts
    assert run(session, sh(date(2026, 10, 14), 0)).counts[("work_order", "mark_overdue")] == 1


def test_a_jump_to_letter_withdraws_the_open_verification_order(session: Session) -> None:
    case = make_revisit(session, state="calling", cooling_off_end=END)
    verification = make_work_order(session, case=case, kind="verification", due_at=end_of(date(2026, 10, 9)))
    session.commit()
    report = run(session, sh(date(2026, 9, 28), 0))
    assert report.counts[("work_order", "withdraw")] == 1
    assert session.get(WorkOrder, verification.id).state == "cancelled"
    run(session, sh(date(2026, 10, 20), 0))  # long after its due day: the withdrawn order stays withdrawn
    listed = session.execute(select(WorkOrder.kind).where(WorkOrder.state == "quality_listed")).scalars().all()
    assert session.get(WorkOrder, verification.id).state == "cancelled" and listed == ["failed_followup"]


def test_an_unreached_follow_up_call_goes_to_letter_after_its_window(session: Session) -> None:
    first = sh(date(2026, 10, 12), 10)
    case = make_revisit(session, state="follow_up_call", classification="problem", first_attempt_at=first,
                        cooling_off_end=date(2026, 10, 26))
    session.commit()
    assert ("revisit", "follow_up_window_expired") not in run(session, sh(date(2026, 10, 14), 23, 59)).counts
    report = run(session, sh(date(2026, 10, 15), 0))
    assert report.counts[("revisit", "follow_up_window_expired")] == 1
    assert session.get(RevisitCase, case.id).state == "letter_or_onsite"
    assert [e for _, e, _, _ in audits(session, case_id=case.id)] == ["follow_up_window_expired"]
    order = session.execute(select(WorkOrder).where(WorkOrder.case_id == case.id)).scalars().one()
    assert (order.kind, order.due_at) == ("failed_followup", end_of(date(2026, 10, 16)))
    assert {o[0] for o in outbox(session)} >= {"revisit_letter", "revisit_escalation"}
