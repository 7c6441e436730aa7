"""Call attempts on a new-contract revisit (SPEC §2.5–2.7), at the domain level with ``now`` passed in.

The base day is Monday 2026-10-12. The standard policy's receipt was signed Friday 2026-10-09, so its
cooling-off period (15 days) would end Saturday 10-24 and runs to Monday 10-26 (节假日顺延): there is
room for the whole ladder (branch verification 3 + re-call 1 + letter/on-site 3 working days).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import UTC
from core.settings import get_settings
from domain.revisits import Ctx, record_attempt
from models import AuditEntry, CallAttempt, OutboxMessage, Policy, RevisitCase, WorkOrder
from statemachines.engine import EventNotAllowed, Rejected, StaleVersion
from tests.factories import make_policy, make_revisit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar.from_chinese_calendar()
SIGNED = date(2026, 10, 9)
DAY = date(2026, 10, 12)  # Monday

# participating, annual premium: every one of the ten items applies
ALL_YES: dict[str, str] = {
    "identity": "yes",
    "purchased_and_signed": "yes",
    "received_policy": "yes",
    "read_documents": "yes",
    "coverage_known": "yes",
    "surrender_loss_known": "yes",
    "cooling_off_known": "yes",
    "payment_known": "yes",
    "returns_uncertain_known": "yes",
    "address_confirmed": "yes",
}


def sh(day: date, hh: int, mm: int = 0) -> datetime:
    """``hh:mm`` Asia/Shanghai on ``day``, as an aware UTC instant."""
    return datetime.combine(day, time(hh, mm), tzinfo=SH).astimezone(UTC)


def end_of(day: date) -> datetime:
    """The end of ``day`` in Asia/Shanghai, as UTC (where a working-day deadline falls)."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=SH).astimezone(UTC) - timedelta(microseconds=1)


def ctx(now: datetime, actor: str = "user:agent1") -> Ctx:
    return Ctx(now=now, actor=actor, settings=get_settings(), calendar=CAL)


def answers(**over: str) -> dict[str, str]:
    return {**ALL_YES, **over}


def new_case(
    session: Session, *, signed: date | None = SIGNED, state: str = "calling", due: date | None = None, **policy_over: Any
) -> RevisitCase:
    """A policy and its revisit case with consistent dates (cooling-off end computed from ``signed``)."""
    policy = make_policy(
        session,
        receipt_signed_date=signed,
        receipt_entered_date=(signed + timedelta(days=1)) if signed else None,
        **policy_over,
    )
    end = CAL.cooling_off_end(signed, 15) if signed else None
    case = make_revisit(
        session,
        policy=policy,
        state=state,
        due_date=due or ((signed + timedelta(days=2)) if signed else date(2026, 10, 1)),
        cooling_off_start=signed,
        cooling_off_end=end,
    )
    session.commit()
    return case


def attempt(
    session: Session,
    case_id: int,
    outcome: str,
    now: datetime,
    *,
    answers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    appointment_at: datetime | None = None,
    expected_version: int | None = -1,
) -> RevisitCase:
    """Record one attempt with the case's current version (unless ``expected_version`` is given)."""
    if expected_version == -1:
        expected_version = session.get(RevisitCase, case_id, populate_existing=True).version
    return record_attempt(
        session,
        case_id=case_id,
        outcome=outcome,
        answers=answers,
        details=details,
        appointment_at=appointment_at,
        expected_version=expected_version,
        ctx=ctx(now),
    )


def reload(session: Session, case_id: int) -> RevisitCase:
    return session.get(RevisitCase, case_id, populate_existing=True)


def count(session: Session, model: Any, *where: Any) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def orders_of(session: Session, case_id: int) -> list[WorkOrder]:
    return list(session.execute(select(WorkOrder).where(WorkOrder.case_id == case_id).order_by(WorkOrder.id)).scalars())


def history(session: Session, case_id: int) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(AuditEntry)
        .where(AuditEntry.case_kind == "revisit", AuditEntry.case_id == case_id)
        .order_by(AuditEntry.version)
    ).scalars()
    return [(r.event, r.source, r.target) for r in rows]


def test_the_standard_setup_has_room_for_the_ladder() -> None:
    assert CAL.cooling_off_end(SIGNED, 15) == date(2026, 10, 26)  # 10-24 is a Saturday → Monday
    assert CAL.workdays_between(DAY, date(2026, 10, 26)) == 10


# --- callable hours, the daily cap, spacing --------------------------------------------------------------


def test_attempt_before_callable_hours_is_rejected_with_a_reason_and_changes_nothing(session: Session) -> None:
    case = new_case(session)
    v0 = case.version
    with pytest.raises(Rejected) as err:
        attempt(session, case.id, "no_answer", sh(DAY, 8, 59))
    assert "09:00" in err.value.reason and "08:59" in err.value.reason
    assert count(session, CallAttempt) == 0
    assert count(session, AuditEntry) == 0
    assert reload(session, case.id).version == v0


def test_attempt_at_nine_is_accepted(session: Session) -> None:
    case = new_case(session)
    v0 = case.version
    after = attempt(session, case.id, "no_answer", sh(DAY, 9, 0))
    assert after.state == "calling"
    assert after.attempt_count == 1 and after.attempts_today == 1 and after.attempts_day == DAY
    assert after.version == v0 + 1
    assert count(session, CallAttempt, CallAttempt.case_id == case.id) == 1


def test_attempt_at_twenty_is_outside_callable_hours(session: Session) -> None:
    case = new_case(session)
    with pytest.raises(Rejected, match="20:00"):
        attempt(session, case.id, "no_answer", sh(DAY, 20, 0))
    assert attempt(session, case.id, "no_answer", sh(DAY, 19, 59)).attempt_count == 1


def test_third_attempt_of_a_day_accepted_fourth_rejected(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "busy", sh(DAY, 9, 0))
    attempt(session, case.id, "busy", sh(DAY, 9, 30))
    third = attempt(session, case.id, "busy", sh(DAY, 10, 0))
    assert third.attempts_today == 3
    # after the day's third attempt the next try is the next day's opening, not 30 minutes later
    assert third.next_attempt_at == sh(DAY + timedelta(days=1), 9, 0)
    with pytest.raises(Rejected, match="3 attempts today"):
        attempt(session, case.id, "busy", sh(DAY, 15, 0))
    assert count(session, CallAttempt, CallAttempt.case_id == case.id) == 3
    # the next day counts afresh
    fourth = attempt(session, case.id, "busy", sh(DAY + timedelta(days=1), 9, 0))
    assert (fourth.attempt_count, fourth.attempts_today) == (4, 1)


def test_no_answer_spaces_the_next_attempt_two_hours(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "no_answer", sh(DAY, 10, 0))
    assert after.next_attempt_at == sh(DAY, 12, 0)
    with pytest.raises(Rejected, match="next attempt is allowed from"):
        attempt(session, case.id, "no_answer", sh(DAY, 11, 59))
    assert count(session, CallAttempt, CallAttempt.case_id == case.id) == 1
    assert attempt(session, case.id, "no_answer", sh(DAY, 12, 0)).attempt_count == 2


def test_busy_spaces_the_next_attempt_thirty_minutes(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "busy", sh(DAY, 10, 0))
    assert after.next_attempt_at == sh(DAY, 10, 30)
    with pytest.raises(Rejected):
        attempt(session, case.id, "busy", sh(DAY, 10, 29))
    assert attempt(session, case.id, "busy", sh(DAY, 10, 30)).attempt_count == 2


def test_spacing_into_the_evening_moves_to_the_next_morning(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "no_answer", sh(DAY, 18, 30))
    assert after.next_attempt_at == sh(DAY + timedelta(days=1), 9, 0)


# --- appointments (预约回访) ---------------------------------------------------------------------------------


def test_appointment_outside_callable_hours_is_rejected_with_a_reason(session: Session) -> None:
    case = new_case(session)
    v0 = case.version
    with pytest.raises(Rejected) as err:
        attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY, 20, 30))
    assert "outside callable hours" in err.value.reason
    with pytest.raises(Rejected, match="outside callable hours"):
        attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY + timedelta(days=1), 7, 30))
    stored = reload(session, case.id)
    assert stored.state == "calling" and stored.appointment_at is None and stored.version == v0
    assert count(session, CallAttempt) == 0


def test_appointment_needs_a_time_in_the_future_inside_the_cooling_off_period(session: Session) -> None:
    case = new_case(session)
    with pytest.raises(Rejected, match="needs 'appointment_at'"):
        attempt(session, case.id, "appointment", sh(DAY, 10, 0))
    with pytest.raises(Rejected, match="future"):
        attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY, 9, 30))
    with pytest.raises(Rejected, match="cooling-off"):
        attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(date(2026, 10, 27), 10, 0))
    assert count(session, CallAttempt) == 0


def test_appointment_in_hours_then_called_at_that_time_within_spacing(session: Session) -> None:
    case = new_case(session)
    booked = attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY, 10, 10))
    assert booked.state == "appointment"
    assert booked.appointment_at == sh(DAY, 10, 10) and booked.next_attempt_at == sh(DAY, 10, 10)
    assert history(session, case.id)[-1] == ("book_appointment", "calling", "appointment")
    # before the customer's time: not yet
    with pytest.raises(Rejected):
        attempt(session, case.id, "connected", sh(DAY, 10, 5), answers=answers())
    # at the customer's time: called, ten minutes after the last call (less than any spacing)
    done = attempt(session, case.id, "connected", sh(DAY, 10, 10), answers=answers())
    assert done.state == "closed_success" and done.classification == "standard"
    assert done.appointment_at is None


def test_a_missed_appointment_is_spent_and_spacing_applies_again(session: Session) -> None:
    case = new_case(session)
    attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY, 11, 0))
    missed = attempt(session, case.id, "no_answer", sh(DAY, 11, 0))
    assert missed.next_attempt_at == sh(DAY, 13, 0)
    assert missed.appointment_at is None  # the appointment was kept (and missed): it overrides nothing more
    with pytest.raises(Rejected, match="next attempt is allowed from"):
        attempt(session, case.id, "no_answer", sh(DAY, 11, 30))


# --- someone else answers ----------------------------------------------------------------------------------


def test_not_policyholder_discloses_nothing_and_the_case_stays_callable(session: Session) -> None:
    case = new_case(session)
    policy_address = session.get(Policy, case.policy_id).holder_address
    after = attempt(session, case.id, "not_policyholder", sh(DAY, 10, 0))
    assert after.state == "calling" and after.classification is None
    assert after.attempt_count == 1 and after.next_attempt_at == sh(DAY, 12, 0)
    assert orders_of(session, case.id) == []
    assert count(session, OutboxMessage) == 0

    # connected, but the person says they are not the policyholder: the same, whatever else was said
    again = attempt(
        session, case.id, "connected", sh(DAY, 12, 0),
        answers={"identity": "no", "address_confirmed": "corrected"}, details={"new_address": "北京市朝阳区"},
    )
    assert again.state == "calling" and again.classification is None and again.sub_types == []
    assert session.get(Policy, case.policy_id).holder_address == policy_address  # not taken from a stranger
    assert orders_of(session, case.id) == []
    assert [e for e, _, _ in history(session, case.id)] == ["attempt_failed", "attempt_failed"]


def test_not_policyholder_giving_a_time_books_an_appointment(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "not_policyholder", sh(DAY, 10, 0), appointment_at=sh(DAY, 18, 0))
    assert after.state == "appointment" and after.appointment_at == sh(DAY, 18, 0)


# --- the attempt budget --------------------------------------------------------------------------------------


def test_sixth_failed_attempt_makes_a_verification_with_a_work_order(session: Session) -> None:
    case = new_case(session)
    d2 = DAY + timedelta(days=1)
    moments = [sh(DAY, 9), sh(DAY, 11), sh(DAY, 13), sh(d2, 9), sh(d2, 11)]
    for at in moments:
        after = attempt(session, case.id, "no_answer", at)
    assert after.state == "calling" and after.attempt_count == 5 and orders_of(session, case.id) == []

    sixth = attempt(session, case.id, "no_answer", sh(d2, 13))
    assert sixth.state == "verification"
    assert sixth.classification == "verification" and sixth.verification_reason == "unreachable"
    assert sixth.attempt_count == 6
    [order] = orders_of(session, case.id)
    assert (order.kind, order.state, order.branch_code) == ("verification", "open", "SH01")
    assert order.due_at == end_of(date(2026, 10, 16))  # 3 working days after Tue 10-13
    assert history(session, case.id)[-2:] == [
        ("attempt_failed", "calling", "calling"),
        ("attempt_window_expired", "calling", "verification"),
    ]
    notice = session.execute(select(OutboxMessage).where(OutboxMessage.case_kind == "work_order")).scalars().one()
    assert notice.case_id == order.id and notice.recipient == "branch:SH01"


def test_budget_exhausted_without_room_for_the_branch_goes_to_letter(session: Session) -> None:
    # signed 09-16: the period ends 10-08 (National Day), and on 09-29/30 there is no room left
    case = new_case(session, signed=date(2026, 9, 16))
    assert case.cooling_off_end == date(2026, 10, 8)
    d1, d2 = date(2026, 9, 29), date(2026, 9, 30)
    for at in [sh(d1, 9), sh(d1, 11), sh(d1, 13), sh(d2, 9), sh(d2, 11), sh(d2, 13)]:
        after = attempt(session, case.id, "no_answer", at)
    assert after.state == "letter_or_onsite"
    assert [o.kind for o in orders_of(session, case.id)] == ["failed_followup"]
    assert orders_of(session, case.id)[0].due_at == end_of(date(2026, 10, 8))  # 1 working day after 09-30


# --- classification after a connected call -----------------------------------------------------------------------


def test_connected_all_yes_closes_as_standard_success(session: Session) -> None:
    case = new_case(session)
    done = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers())
    assert done.state == "closed_success" and done.classification == "standard"
    assert done.closed_at == sh(DAY, 10)
    assert done.late is False and done.surrender_as_cooling_off_until is None
    assert orders_of(session, case.id) == []
    assert [e for e, _, _ in history(session, case.id)] == ["classify_standard", "close"]
    assert session.execute(select(CallAttempt)).scalars().one().answers == ALL_YES


def test_corrected_item_makes_a_substandard_with_a_remark_order(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(surrender_loss_known="corrected"))
    assert after.state == "substandard" and after.classification == "substandard"
    assert after.sub_types == ["unclear_cooling_off_surrender"]
    [order] = orders_of(session, case.id)
    assert order.kind == "substandard_remark"
    assert order.due_at == end_of(date(2026, 10, 15))  # 3 working days after Mon 10-12


def test_a_no_makes_a_problem_with_a_problem_order(session: Session) -> None:
    case = new_case(session)
    after = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(coverage_known="no"))
    assert after.state == "problem" and after.classification == "problem"
    assert after.problem_category == "misleading_suspected" and after.sub_types == ["unclear_coverage"]
    [order] = orders_of(session, case.id)
    assert order.kind == "problem" and order.second_communication is False
    assert order.due_at == end_of(date(2026, 10, 15))


def test_proxy_signature_makes_a_resign_order_due_in_five_working_days(session: Session) -> None:
    case = new_case(session)
    after = attempt(
        session, case.id, "connected", sh(DAY, 10), answers=answers(), details={"proxy_signature": ["receipt"]}
    )
    assert after.state == "problem" and after.problem_category == "proxy_signature"
    [order] = orders_of(session, case.id)
    assert order.kind == "resign"
    assert order.due_at == end_of(date(2026, 10, 19))  # Tue..Fri, Mon 10-19
    assert session.execute(
        select(AuditEntry.payload).where(AuditEntry.event == "classify_problem")
    ).scalar_one()["proxy_signature"] == ["receipt"]


def test_contract_not_received_is_a_verification(session: Session) -> None:
    case = new_case(session)
    after = attempt(
        session, case.id, "connected", sh(DAY, 10),
        answers={"identity": "yes", "purchased_and_signed": "yes", "received_policy": "no"},
    )
    assert after.state == "verification" and after.verification_reason == "contract_not_received"
    assert [o.kind for o in orders_of(session, case.id)] == ["verification"]


def test_incomplete_answers_are_rejected_and_nothing_is_written(session: Session) -> None:
    case = new_case(session)
    partial = dict(ALL_YES)
    del partial["cooling_off_known"]
    with pytest.raises(Rejected, match="cooling_off_known"):
        attempt(session, case.id, "connected", sh(DAY, 10), answers=partial)
    assert count(session, CallAttempt) == 0 and count(session, AuditEntry) == 0


def test_unknown_outcome_is_rejected(session: Session) -> None:
    case = new_case(session)
    with pytest.raises(Rejected, match="unknown outcome"):
        attempt(session, case.id, "hung_up", sh(DAY, 10))
    assert count(session, CallAttempt) == 0


def test_an_address_change_is_recorded_on_the_policy(session: Session) -> None:
    case = new_case(session)
    done = attempt(
        session, case.id, "connected", sh(DAY, 10),
        answers=answers(address_confirmed="corrected"), details={"new_address": "杭州市西湖区"},
    )
    assert done.classification == "standard"  # an address change is not a questionnaire failure
    assert session.get(Policy, case.policy_id, populate_existing=True).holder_address == "杭州市西湖区"


# --- the cooling-off period -------------------------------------------------------------------------------


def test_success_after_the_cooling_off_end_is_late_with_a_surrender_window(session: Session) -> None:
    case = new_case(session, signed=date(2026, 9, 16))  # ends 2026-10-08
    done = attempt(session, case.id, "connected", sh(date(2026, 10, 9), 10), answers=answers())
    assert done.state == "closed_success"
    assert done.late is True
    assert done.surrender_as_cooling_off_until == date(2026, 10, 16)  # the revisit day + 7


def test_substandard_after_the_cooling_off_end_is_late_too(session: Session) -> None:
    case = new_case(session, signed=date(2026, 9, 16))
    after = attempt(session, case.id, "connected", sh(date(2026, 10, 12), 10), answers=answers(payment_known="corrected"))
    assert after.state == "substandard"
    assert after.late is True and after.surrender_as_cooling_off_until == date(2026, 10, 19)


def test_success_on_the_last_day_of_cooling_off_is_not_late(session: Session) -> None:
    case = new_case(session, signed=date(2026, 9, 16))
    done = attempt(session, case.id, "connected", sh(date(2026, 10, 8), 19, 59), answers=answers())
    assert done.state == "closed_success"
    assert done.late is False and done.surrender_as_cooling_off_until is None


def test_success_before_the_receipt_was_signed_needs_a_supplementary_revisit(session: Session) -> None:
    # bancassurance is due the day after issue, possibly before the customer signs the receipt
    case = new_case(session, signed=date(2026, 10, 14), channel="bancassurance", due=date(2026, 10, 10))
    after = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers())
    assert after.state == "scheduled"
    assert after.supplementary_needed is True and after.classification is None
    assert after.due_date == date(2026, 10, 15)  # inside the period, which starts the day after signing
    assert after.closed_at is None
    assert [e for e, _, _ in history(session, case.id)] == ["classify_standard", "require_supplementary"]


def test_success_with_no_receipt_signed_yet_needs_a_supplementary_revisit(session: Session) -> None:
    case = new_case(session, signed=None, channel="bancassurance")
    after = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers())
    assert after.state == "scheduled" and after.supplementary_needed is True


# --- concurrency and refusals ----------------------------------------------------------------------------------


def test_stale_expected_version_raises_and_writes_nothing(session: Session) -> None:
    case = new_case(session)
    v0 = case.version
    attempt(session, case.id, "no_answer", sh(DAY, 9))
    audits = count(session, AuditEntry)
    with pytest.raises(StaleVersion) as err:
        attempt(session, case.id, "connected", sh(DAY, 11), answers=answers(), expected_version=v0)
    assert err.value.current == v0 + 1
    assert count(session, CallAttempt) == 1
    assert count(session, AuditEntry) == audits
    stored = reload(session, case.id)
    assert stored.state == "calling" and stored.version == v0 + 1 and stored.attempt_count == 1


def test_no_attempt_on_a_case_that_is_not_being_called(session: Session) -> None:
    case = new_case(session, state="scheduled")
    with pytest.raises(EventNotAllowed):
        attempt(session, case.id, "no_answer", sh(DAY, 10))
    closed = new_case(session, state="closed_success")
    with pytest.raises(EventNotAllowed):
        attempt(session, closed.id, "no_answer", sh(DAY, 10))
    assert count(session, CallAttempt) == 0


def test_substandard_before_the_receipt_was_signed_needs_a_supplementary_revisit_too(session: Session) -> None:
    case = new_case(session, signed=date(2026, 10, 14), channel="bancassurance", due=date(2026, 10, 10))
    after = attempt(session, case.id, "connected", sh(DAY, 10), answers=answers(coverage_known="corrected"))
    assert after.state == "scheduled" and after.supplementary_needed is True
    assert after.due_date == date(2026, 10, 15)
    assert after.late is False and after.surrender_as_cooling_off_until is None
    # the remark on the agent's explanation is due all the same
    assert [o.kind for o in orders_of(session, case.id)] == ["substandard_remark"]
    assert [e for e, _, _ in history(session, case.id)] == ["classify_substandard", "require_supplementary"]


def test_late_marks_are_written_by_the_classifying_transition(session: Session) -> None:
    case = new_case(session, signed=date(2026, 9, 16))
    after = attempt(session, case.id, "connected", sh(date(2026, 10, 12), 10), answers=answers(payment_known="corrected"))
    assert after.late is True
    audit = session.execute(
        select(AuditEntry).where(AuditEntry.case_kind == "revisit", AuditEntry.case_id == case.id)
    ).scalars().one()
    assert (audit.event, audit.version) == ("classify_substandard", after.version)


def test_the_booking_agent_is_reminded_when_the_customers_time_comes(session: Session) -> None:
    from domain.timers import release_due_callbacks

    case = new_case(session)
    attempt(session, case.id, "appointment", sh(DAY, 10, 0), appointment_at=sh(DAY, 15, 30))
    session.rollback()
    assert release_due_callbacks(session, ctx=ctx(sh(DAY, 15, 29), "flow:callback-dispatch"))["appointment_due"] == 0
    assert count(session, OutboxMessage) == 0
    session.rollback()
    assert release_due_callbacks(session, ctx=ctx(sh(DAY, 15, 30), "flow:callback-dispatch"))["appointment_due"] == 1
    note = session.execute(select(OutboxMessage)).scalars().one()
    assert (note.template, note.recipient, note.context["appointment_at"]) == (
        "callback_reminder", "user:agent1", sh(DAY, 15, 30).isoformat()
    )
    assert session.get(RevisitCase, case.id, populate_existing=True).state == "calling"
    session.rollback()
    release_due_callbacks(session, ctx=ctx(sh(DAY, 15, 30), "flow:callback-dispatch"))
    assert count(session, OutboxMessage) == 1  # the same moment again: no second reminder


# --- review findings: races, resets, the ladder's room ------------------------------------------------------


@pytest.mark.postgres
def test_two_agents_recording_at_once_one_wins_the_other_gets_stale(pg_session: Session, pg_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time as wall

    import domain.revisits as rv

    case = new_case(pg_session)
    case_id, version = case.id, case.version
    real = rv._check_attempt_allowed

    def slow(c: RevisitCase, cx: Ctx) -> None:
        wall.sleep(0.3)  # hold the row while the other agent arrives
        real(c, cx)

    monkeypatch.setattr(rv, "_check_attempt_allowed", slow)
    outcomes: list[str] = []

    def agent(name: str, outcome: str) -> None:
        with Session(pg_engine, expire_on_commit=False) as s:
            try:
                record_attempt(s, case_id=case_id, outcome=outcome, answers=None, details=None, appointment_at=None,
                               expected_version=version, ctx=ctx(sh(DAY, 10), f"user:{name}"))
                outcomes.append("ok")
            except StaleVersion:
                outcomes.append("stale")

    threads = [threading.Thread(target=agent, args=(n, o)) for n, o in (("a", "no_answer"), ("b", "busy"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale"]
    pg_session.expire_all()
    assert pg_session.get(RevisitCase, case_id).attempt_count == 1
    assert count(pg_session, CallAttempt) == 1


def test_an_appointment_must_leave_the_letter_rung_its_working_days(session: Session) -> None:
    # signed 10-09, cooling-off ends Mon 10-26: the last 3 working days are 10-22, 10-23, 10-26 → jump 10-21 00:00
    case = new_case(session)
    with pytest.raises(Rejected, match="must come before 2026-10-21 00:00"):
        attempt(session, case.id, "appointment", sh(DAY, 10), appointment_at=sh(date(2026, 10, 21), 9))
    booked = attempt(session, case.id, "appointment", sh(DAY, 10), appointment_at=sh(date(2026, 10, 20), 19, 59))
    assert booked.state == "appointment"


def test_booking_an_appointment_restarts_the_unreached_window(session: Session) -> None:
    from domain import sweep

    case = new_case(session)
    attempt(session, case.id, "no_answer", sh(DAY, 10))
    booked = attempt(session, case.id, "appointment", sh(DAY + timedelta(days=1), 10),
                     appointment_at=sh(DAY + timedelta(days=3), 10))
    assert booked.first_attempt_at is None
    session.rollback()
    from domain.timers import release_due_callbacks

    release_due_callbacks(session, ctx=ctx(sh(DAY + timedelta(days=3), 10), "flow:callback-dispatch"))
    session.rollback()
    report = sweep.run_sweep(session, ctx=ctx(sh(DAY + timedelta(days=3), 10, 2), "flow:revisit-sweep"))
    assert ("revisit", "attempt_window_expired") not in report.counts
    assert reload(session, case.id).state == "calling"  # the customer's call is still to be made


def test_a_supplementary_revisit_starts_with_a_fresh_window_budget_and_ladder(session: Session) -> None:
    case = new_case(session, signed=None)  # receipt not signed yet: a success needs a 补访
    attempt(session, case.id, "no_answer", sh(DAY, 10))
    done = attempt(session, case.id, "connected", sh(DAY, 14), answers=answers())
    assert done.state == "scheduled" and done.supplementary_needed
    assert (done.first_attempt_at, done.attempt_count, done.recall_count) == (None, 0, 0)


def test_a_special_revisit_falling_due_again_goes_to_letter_not_to_the_phone(session: Session) -> None:
    from domain.timers import open_due_cases

    case = new_case(session, state="scheduled", special_revisit=True)
    case.special_revisit, case.due_date = True, DAY
    session.add(case)
    plain = new_case(session, state="scheduled")
    plain.due_date = DAY
    session.add(plain)
    session.commit()
    assert open_due_cases(session, ctx=ctx(sh(DAY, 0), "flow:callback-dispatch")) == 2
    assert reload(session, case.id).state == "letter_or_onsite"
    assert reload(session, plain.id).state == "calling"
    assert [o.kind for o in orders_of(session, case.id)] == ["failed_followup"]
    assert count(session, OutboxMessage, OutboxMessage.template == "revisit_letter") == 1


def test_a_case_cannot_be_called_before_its_due_date(session: Session) -> None:
    case = new_case(session, due=DAY + timedelta(days=1))  # e.g. verified and re-called before its day
    with pytest.raises(Rejected, match="due from 2026-10-13"):
        attempt(session, case.id, "connected", sh(DAY, 23, 0) - timedelta(hours=4), answers=answers())
    assert attempt(session, case.id, "connected", sh(DAY + timedelta(days=1), 9), answers=answers()).state == "closed_success"
