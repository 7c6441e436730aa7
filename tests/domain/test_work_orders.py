"""Branch work orders (SPEC §2.4, §2.7, §2.8): what an accepted order does to its revisit, due dates
across National Day and make-up working days, and the branch's order of work."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from core.settings import get_settings
from domain.queue import next_work_order
from domain.revisits import send_event, send_work_order_event
from domain.timers import release_due_callbacks
from domain.work_orders import create_work_order, due_at
from models import AuditEntry, Policy, RevisitCase, WorkOrder
from statemachines.engine import EventNotAllowed, Rejected, StaleVersion
from tests.domain.test_attempts import (
    CAL,
    DAY,
    answers,
    attempt,
    ctx,
    end_of,
    history,
    new_case,
    orders_of,
    reload,
    sh,
)
from tests.factories import make_revisit, make_work_order

BRANCH = "user:branch-sh01"
HQ = "user:agent1"


def order_event(
    session: Session, order_id: int, event: str, now: datetime, actor: str = BRANCH, **payload: Any
) -> WorkOrder:
    version = session.get(WorkOrder, order_id, populate_existing=True).version
    return send_work_order_event(
        session, order_id=order_id, event=event, payload=payload, expected_version=version, ctx=ctx(now, actor)
    )


def revisit_event(session: Session, case_id: int, event: str, now: datetime, **payload: Any) -> RevisitCase:
    version = reload(session, case_id).version
    return send_event(session, case_id=case_id, event=event, payload=payload, expected_version=version, ctx=ctx(now))


def branch_completes(session: Session, order_id: int, now: datetime, result: dict[str, Any]) -> WorkOrder:
    """The branch starts and submits; HQ accepts (SPEC §3 work-order machine)."""
    order_event(session, order_id, "start", now)
    order_event(session, order_id, "submit", now, result=result)
    return order_event(session, order_id, "accept", now, actor=HQ)


# --- verification (核实件) ----------------------------------------------------------------------------------


def test_verification_order_accepted_with_a_new_phone_schedules_the_recall(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "wrong_number", sh(DAY, 10))
    [order] = orders_of(session, case.id)
    assert order.kind == "verification" and reload(session, case.id).state == "verification"

    d2 = DAY + timedelta(days=1)
    order_event(session, order.id, "start", sh(d2, 9))
    order_event(session, order.id, "submit", sh(d2, 20, 30), result={"phone": "139 1234 5678", "note": "new mobile"})
    accepted = order_event(session, order.id, "accept", sh(d2, 20, 30), actor=HQ)
    assert accepted.state == "accepted" and accepted.closed_at == sh(d2, 20, 30)

    after = reload(session, case.id)
    assert after.state == "recall" and after.recall_count == 1
    assert after.next_attempt_at == sh(d2 + timedelta(days=1), 9, 0)  # accepted after hours: next opening
    assert after.attempt_count == 0  # a new phone rung: the budget starts again
    assert session.get(Policy, case.policy_id, populate_existing=True).holder_phone == "13912345678"
    assert history(session, case.id)[-1] == ("contact_fixed", "verification", "recall")

    # callback-dispatch: not before the re-call time, then into the call queue
    assert release_due_callbacks(session, ctx=ctx(sh(d2, 21), "flow:callback-dispatch"))["recall_due"] == 0
    assert reload(session, case.id).state == "recall"
    released = release_due_callbacks(session, ctx=ctx(sh(d2 + timedelta(days=1), 9, 0), "flow:callback-dispatch"))
    assert released["recall_due"] == 1
    assert reload(session, case.id).state == "calling"
    assert history(session, case.id)[-1] == ("recall_due", "recall", "calling")

    done = attempt(session, case.id, "connected", sh(d2 + timedelta(days=1), 9, 5), answers=answers())
    assert done.state == "closed_success"


def test_verification_with_an_invalid_phone_is_not_accepted(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "wrong_number", sh(DAY, 10))
    [order] = orders_of(session, case.id)
    order_event(session, order.id, "submit", sh(DAY, 15), result={"phone": "12345"})
    old_phone = session.get(Policy, case.policy_id).holder_phone
    with pytest.raises(Rejected, match="not a valid number"):
        order_event(session, order.id, "accept", sh(DAY, 16), actor=HQ)
    assert session.get(WorkOrder, order.id, populate_existing=True).state == "submitted"
    assert reload(session, case.id).state == "verification"
    assert session.get(Policy, case.policy_id, populate_existing=True).holder_phone == old_phone


def test_returned_order_goes_back_to_the_branch(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "wrong_number", sh(DAY, 10))
    [order] = orders_of(session, case.id)
    order_event(session, order.id, "submit", sh(DAY, 15), result={"note": "customer abroad"})
    with pytest.raises(Rejected, match="reason"):
        order_event(session, order.id, "return_to_branch", sh(DAY, 16), actor=HQ)
    returned = order_event(session, order.id, "return_to_branch", sh(DAY, 16), actor=HQ, reason="no phone recorded")
    assert returned.state == "returned"
    assert reload(session, case.id).state == "verification"
    assert order_event(session, order.id, "resume", sh(DAY, 17)).state == "in_progress"


def test_stale_work_order_version_changes_nothing(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "wrong_number", sh(DAY, 10))
    [order] = orders_of(session, case.id)
    audits = session.execute(select(AuditEntry)).all()
    with pytest.raises(StaleVersion):
        send_work_order_event(
            session, order_id=order.id, event="start", payload={}, expected_version=7, ctx=ctx(sh(DAY, 11), BRANCH)
        )
    assert session.get(WorkOrder, order.id, populate_existing=True).state == "open"
    assert session.execute(select(AuditEntry)).all() == audits


# --- problem (问题件) and second communication (二次沟通解释件) ----------------------------------------------


def test_problem_order_accepted_leads_to_the_follow_up_call(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(coverage_known="no"))
    [order] = orders_of(session, case.id)
    branch_completes(session, order.id, sh(DAY, 15), {"explanation": "agent visited and explained the exclusions"})
    after = reload(session, case.id)
    assert after.state == "follow_up_call"
    assert after.next_attempt_at == sh(DAY, 15)
    assert history(session, case.id)[-1] == ("explanation_recorded", "problem", "follow_up_call")


def test_follow_up_not_understood_opens_a_second_communication_order(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(coverage_known="no"))
    [first] = orders_of(session, case.id)
    branch_completes(session, first.id, sh(DAY, 15), {"explanation": "explained"})

    d2 = DAY + timedelta(days=1)
    second_comm = revisit_event(session, case.id, "follow_up_not_understood", sh(d2, 10))
    assert second_comm.state == "second_communication"
    orders = orders_of(session, case.id)
    assert [(o.kind, o.second_communication) for o in orders] == [("problem", False), ("problem", True)]
    new = orders[1]
    assert new.state == "open" and new.due_at == end_of(date(2026, 10, 16))  # 3 working days after 10-13

    # the second explanation, then the follow-up call finds the customer understanding
    branch_completes(session, new.id, sh(d2, 16), {"explanation": "explained again, with the manager"})
    assert reload(session, case.id).state == "follow_up_call"
    closed = revisit_event(session, case.id, "follow_up_understood", sh(d2 + timedelta(days=1), 10))
    assert closed.state == "closed_success" and closed.closed_at is not None and closed.late is False


def test_misleading_confirmed_needs_a_reason(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(purchased_and_signed="no"))
    [order] = orders_of(session, case.id)
    branch_completes(session, order.id, sh(DAY, 15), {"explanation": "explained"})
    with pytest.raises(Rejected, match="reason"):
        revisit_event(session, case.id, "confirm_misleading", sh(DAY, 16))
    done = revisit_event(session, case.id, "confirm_misleading", sh(DAY, 16), reason="thought it was a deposit")
    assert done.state == "misleading_confirmed"


def test_resign_order_accepted_leads_to_the_follow_up_call(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(), details={"proxy_signature": ["application"]})
    [order] = orders_of(session, case.id)
    assert order.kind == "resign"
    branch_completes(session, order.id, sh(DAY, 15), {"resigned": ["application"]})
    assert reload(session, case.id).state == "follow_up_call"


# --- sub-standard remark (次标准件) ------------------------------------------------------------------------


def test_substandard_remark_accepted_closes_the_revisit_as_success(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(payment_known="corrected"))
    [order] = orders_of(session, case.id)
    assert order.kind == "substandard_remark"
    with pytest.raises(Rejected, match="result"):
        order_event(session, order.id, "submit", sh(DAY, 15))
    order_event(session, order.id, "submit", sh(DAY, 15), result={"remark": "agent retrained on payment terms"})
    order_event(session, order.id, "accept", sh(DAY, 16), actor=HQ)
    after = reload(session, case.id)
    assert after.state == "closed_success" and after.closed_at == sh(DAY, 16)
    assert history(session, case.id)[-1] == ("remark_recorded", "substandard", "closed_success")


def test_an_order_that_is_not_submitted_cannot_be_accepted(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(payment_known="corrected"))
    [order] = orders_of(session, case.id)
    with pytest.raises(EventNotAllowed) as err:
        order_event(session, order.id, "accept", sh(DAY, 15), actor=HQ)
    assert "submit" in err.value.allowed
    assert reload(session, case.id).state == "substandard"


# --- the ladder (SPEC §2.7) ----------------------------------------------------------------------------------


def _exhaust(session: Session, case_id: int, first_day: date, first_hour: int = 9) -> RevisitCase:
    """Six no-answers, three a day, two hours apart."""
    d2 = first_day + timedelta(days=1)
    h = first_hour
    for at in [sh(first_day, h), sh(first_day, h + 2), sh(first_day, h + 4), sh(d2, 9), sh(d2, 11), sh(d2, 13)]:
        after = attempt(session, case_id, "no_answer", at)
    return after


def test_recall_exhausted_goes_to_letter_or_onsite_then_closes_failed_with_reasons(session: Session) -> None:
    case = new_case(session)
    assert _exhaust(session, case.id, DAY).state == "verification"
    [verification] = orders_of(session, case.id)
    d3 = DAY + timedelta(days=2)  # Wed 10-14
    branch_completes(session, verification.id, sh(d3, 10), {"phone": "13700000009"})
    release_due_callbacks(session, ctx=ctx(sh(d3, 10), "flow:callback-dispatch"))
    assert reload(session, case.id).state == "calling"

    after = _exhaust(session, case.id, d3, first_hour=11)
    assert after.state == "letter_or_onsite"  # HQ's phone rungs are used up: no second verification
    kinds = [o.kind for o in orders_of(session, case.id)]
    assert kinds == ["verification", "failed_followup"]
    failed_followup = orders_of(session, case.id)[1]
    assert failed_followup.due_at == end_of(date(2026, 10, 16))  # 1 working day after Thu 10-15

    with pytest.raises(Rejected, match="reasons"):
        revisit_event(session, case.id, "close_failed", sh(date(2026, 10, 20), 10), reasons=[])
    closed = revisit_event(
        session, case.id, "close_failed", sh(date(2026, 10, 20), 10),
        reasons=["no answer on the verified number", "letter returned unsigned"],
    )
    assert closed.state == "closed_failed"
    assert closed.failure_reasons == ["no answer on the verified number", "letter returned unsigned"]


def test_letter_or_onsite_success_closes_as_success(session: Session) -> None:
    case = new_case(session, signed=date(2026, 9, 16))  # no room: the budget sends it straight to letter
    d1, d2 = date(2026, 9, 29), date(2026, 9, 30)
    for at in [sh(d1, 9), sh(d1, 11), sh(d1, 13), sh(d2, 9), sh(d2, 11), sh(d2, 13)]:
        attempt(session, case.id, "no_answer", at)
    assert reload(session, case.id).state == "letter_or_onsite"
    done = revisit_event(session, case.id, "letter_or_onsite_success", sh(date(2026, 10, 8), 10))
    assert done.state == "closed_success" and done.late is False


# --- due dates in working days (SPEC §2.4) --------------------------------------------------------------------


def test_three_working_days_across_national_day() -> None:
    issued = sh(date(2026, 9, 29), 10)  # Tuesday
    due = due_at("verification", issued, CAL, get_settings())
    assert due == end_of(date(2026, 10, 9))  # 09-30, 10-08, 10-09
    assert due == datetime.fromisoformat("2026-10-09T15:59:59.999999+00:00")


def test_one_working_day_lands_on_the_make_up_saturday() -> None:
    issued = sh(date(2026, 10, 9), 17)  # Friday; Saturday 10-10 is a make-up working day
    assert due_at("failed_followup", issued, CAL, get_settings()) == end_of(date(2026, 10, 10))


def test_five_working_days_for_resigning_across_national_day() -> None:
    issued = sh(date(2026, 9, 29), 10)
    # 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12
    assert due_at("resign", issued, CAL, get_settings()) == end_of(date(2026, 10, 12))


def test_an_order_issued_late_in_the_evening_counts_from_its_shanghai_day() -> None:
    issued = datetime.fromisoformat("2026-09-28T17:30:00+00:00")  # 01:30 on Tue 09-29 in Shanghai
    assert due_at("verification", issued, CAL, get_settings()) == end_of(date(2026, 10, 9))


def test_created_order_carries_the_working_day_due_time(session: Session) -> None:
    case = make_revisit(session, state="verification")
    order = create_work_order(
        session, case=case, kind="verification", now=sh(date(2026, 9, 29), 10), actor=BRANCH,
        calendar=CAL, settings=get_settings(),
    )
    session.commit()
    stored = session.get(WorkOrder, order.id, populate_existing=True)
    assert stored.due_at == end_of(date(2026, 10, 9)) and stored.state == "open" and stored.branch_code == "SH01"
    audit = session.execute(select(AuditEntry).where(AuditEntry.case_kind == "work_order")).scalars().one()
    assert (audit.event, audit.target, audit.version) == ("created", "open", 1)


# --- the branch's order of work (处理顺序, SPEC §2.8) ---------------------------------------------------------


def test_branch_queue_order(session: Session) -> None:
    today = sh(date(2026, 10, 12), 10)

    def order(kind: str, issued: date, due: date, branch: str = "SH01") -> WorkOrder:
        case = make_revisit(session, state="problem", branch_code=branch)
        return make_work_order(
            session, case=case, kind=kind, branch_code=branch, issued_at=sh(issued, 10), due_at=end_of(due)
        )

    older = order("resign", date(2026, 7, 1), date(2026, 7, 8))
    month_before_problem = order("problem", date(2026, 8, 20), date(2026, 8, 25))
    month_before_sub = order("substandard_remark", date(2026, 8, 3), date(2026, 8, 6))
    last_month_problem = order("problem", date(2026, 9, 21), date(2026, 9, 24))
    last_month_sub = order("substandard_remark", date(2026, 9, 2), date(2026, 9, 7))
    this_month_problem = order("problem", date(2026, 10, 9), date(2026, 10, 14))
    verification_new = order("verification", date(2026, 10, 12), date(2026, 10, 15))
    verification_old = order("verification", date(2026, 9, 29), date(2026, 10, 9))
    failed_followup = order("failed_followup", date(2026, 10, 12), date(2026, 10, 13))
    order("verification", date(2026, 9, 1), date(2026, 9, 3), branch="BJ01")  # another branch
    done = order("verification", date(2026, 9, 1), date(2026, 9, 3))
    done.state = "accepted"
    session.add(done)
    session.commit()

    seen: list[int] = []
    while (nxt := next_work_order(session, branch="SH01", ctx=ctx(today, BRANCH))) is not None:
        seen.append(nxt.id)
        nxt.state = "accepted"
        session.add(nxt)
        session.commit()
    assert seen == [
        verification_old.id,  # verification first, nearest deadline first
        failed_followup.id,
        verification_new.id,
        last_month_sub.id,  # then last month's problem / sub-standard (and this month's), by deadline
        last_month_problem.id,
        this_month_problem.id,
        month_before_sub.id,  # then the month before
        month_before_problem.id,
        older.id,  # then older
    ]


def test_branch_queue_is_scoped_to_the_branch(session: Session) -> None:
    case = make_revisit(session, state="verification", branch_code="BJ01")
    make_work_order(session, case=case, branch_code="BJ01")
    session.commit()
    assert next_work_order(session, branch="SH01", ctx=ctx(sh(DAY, 10), BRANCH)) is None
    assert next_work_order(session, branch="BJ01", ctx=ctx(sh(DAY, 10), BRANCH)).branch_code == "BJ01"


def test_follow_up_success_before_the_receipt_was_signed_needs_a_supplementary_revisit(session: Session) -> None:
    case = new_case(session, signed=date(2026, 10, 14), channel="bancassurance", due=date(2026, 10, 10))
    attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(coverage_known="no"))
    [order] = orders_of(session, case.id)
    branch_completes(session, order.id, sh(DAY, 15), {"explanation": "explained"})
    after = revisit_event(session, case.id, "follow_up_understood", sh(DAY + timedelta(days=1), 10))
    assert after.state == "scheduled" and after.supplementary_needed is True
    assert after.due_date == date(2026, 10, 15) and after.closed_at is None
    assert history(session, case.id)[-1] == ("require_supplementary", "follow_up_call", "scheduled")


def test_a_recall_on_the_same_day_keeps_the_daily_cap(session: Session) -> None:
    case = new_case(session)
    assert _exhaust(session, case.id, DAY).state == "verification"  # the 3rd attempt of Tue 10-13 at 13:00
    d2 = DAY + timedelta(days=1)
    [order] = orders_of(session, case.id)
    branch_completes(session, order.id, sh(d2, 15), {"phone": "13700000009"})
    assert reload(session, case.id).state == "recall"
    with pytest.raises(Rejected, match="3 attempts today"):
        attempt(session, case.id, "no_answer", sh(d2, 15, 30))
    after = attempt(session, case.id, "no_answer", sh(d2 + timedelta(days=1), 9))
    assert (after.attempt_count, after.attempts_today) == (1, 1)  # a new budget on the new number


def test_cancelling_the_revisit_cancels_its_open_work_orders(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "wrong_number", sh(DAY, 10))
    [order] = orders_of(session, case.id)
    order_event(session, order.id, "start", sh(DAY, 11))
    cancelled = revisit_event(session, case.id, "cancel", sh(DAY, 12), reason="policy surrendered in cooling-off")
    assert cancelled.state == "cancelled" and cancelled.closed_at == sh(DAY, 12)
    stored = session.get(WorkOrder, order.id, populate_existing=True)
    assert stored.state == "cancelled" and stored.closed_at == sh(DAY, 12)
    assert next_work_order(session, branch="SH01", ctx=ctx(sh(DAY, 13), BRANCH)) is None
