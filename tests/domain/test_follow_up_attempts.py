"""Failed attempts of HQ's follow-up call of a problem case (SPEC §2.7 spacing and budget, §2.8 follow-up call).

The follow-up call counts and spaces its failed attempts like every call; when its budget is spent (or
the number is wrong, the customer refuses, the language fails) the branch takes it on by letter /
on-site with the 1-working-day failed-revisit order (不成功件), as every failed phone revisit.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from models import CallAttempt, OutboxMessage, RevisitCase
from statemachines.engine import Rejected
from tests.domain.test_attempts import (
    DAY,
    answers,
    attempt,
    count,
    end_of,
    history,
    new_case,
    orders_of,
    reload,
    sh,
)
from tests.domain.test_work_orders import branch_completes, revisit_event


def follow_up_case(session: Session, *, signed: date | None = None, day: date = DAY) -> RevisitCase:
    """A problem case whose branch explanation is accepted at 15:00 on ``day``: in ``follow_up_call``."""
    case = new_case(session, signed=signed) if signed else new_case(session)
    attempt(session, case.id, "connected", sh(day, 10), answers=answers(coverage_known="no"))
    [order] = orders_of(session, case.id)
    branch_completes(session, order.id, sh(day, 15), {"explanation": "agent visited and explained the exclusions"})
    after = reload(session, case.id)
    assert after.state == "follow_up_call"
    return after


def test_the_follow_up_call_starts_with_a_fresh_attempt_budget(session: Session) -> None:
    case = follow_up_case(session)
    # the first call (connected at 10:00) counted one attempt; the follow-up is a new phone rung
    assert (case.attempt_count, case.first_attempt_at, case.next_attempt_at) == (0, None, sh(DAY, 15))
    assert case.attempts_today == 1  # the day's cap carries on (3 a day per case)


def test_no_answer_keeps_the_follow_up_call_and_spaces_the_next_try(session: Session) -> None:
    case = follow_up_case(session)
    with pytest.raises(Rejected, match="next attempt is allowed from"):
        attempt(session, case.id, "no_answer", sh(DAY, 14, 59))
    after = attempt(session, case.id, "no_answer", sh(DAY, 15))
    assert (after.state, after.attempt_count, after.next_attempt_at) == ("follow_up_call", 1, sh(DAY, 17))
    assert after.first_attempt_at == sh(DAY, 15) and after.classification == "problem"
    with pytest.raises(Rejected, match="next attempt is allowed from"):
        attempt(session, case.id, "busy", sh(DAY, 16, 59))
    busy = attempt(session, case.id, "busy", sh(DAY, 17))
    # the 3rd attempt of the day (the first call was the 1st): next one tomorrow at 09:00
    assert (busy.state, busy.attempt_count, busy.attempts_today) == ("follow_up_call", 2, 3)
    assert busy.next_attempt_at == sh(DAY + timedelta(days=1), 9)
    assert history(session, case.id)[-2:] == [
        ("attempt_failed", "follow_up_call", "follow_up_call"),
        ("attempt_failed", "follow_up_call", "follow_up_call"),
    ]
    assert [a.outcome for a in session.execute(select(CallAttempt).order_by(CallAttempt.id)).scalars()] == [
        "connected", "no_answer", "busy"
    ]
    assert orders_of(session, case.id)[-1].state == "accepted"  # no new order while it is still being tried


def test_follow_up_attempts_respect_callable_hours(session: Session) -> None:
    case = follow_up_case(session)
    with pytest.raises(Rejected, match="09:00 and 20:00"):
        attempt(session, case.id, "no_answer", sh(DAY, 20))
    assert reload(session, case.id).attempt_count == 0
    assert attempt(session, case.id, "no_answer", sh(DAY, 19, 59)).state == "follow_up_call"


def test_the_spent_budget_sends_the_follow_up_to_letter_with_a_one_day_order(session: Session) -> None:
    # explained Mon 09-28; attempts Mon–Wed; the 6th on Wed 09-30 → the order falls after National Day
    case = follow_up_case(session, signed=date(2026, 9, 25), day=date(2026, 9, 28))
    mon, tue, wed = date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)
    for at in [sh(mon, 15), sh(mon, 17), sh(tue, 9), sh(tue, 11), sh(tue, 13)]:
        after = attempt(session, case.id, "no_answer", at)
    assert (after.state, after.attempt_count) == ("follow_up_call", 5)
    assert count(session, OutboxMessage, OutboxMessage.template == "revisit_letter") == 0

    sixth = attempt(session, case.id, "no_answer", sh(wed, 9))

    assert (sixth.state, sixth.attempt_count, sixth.classification) == ("letter_or_onsite", 6, "problem")
    assert history(session, case.id)[-2:] == [
        ("attempt_failed", "follow_up_call", "follow_up_call"),
        ("follow_up_unreachable", "follow_up_call", "letter_or_onsite"),
    ]
    order = orders_of(session, case.id)[-1]
    assert (order.kind, order.state) == ("failed_followup", "open")
    assert order.due_at == end_of(date(2026, 10, 8))  # 1 working day after Wed 09-30: Thu 10-08
    letter = session.execute(select(OutboxMessage).where(OutboxMessage.template == "revisit_letter")).scalars().one()
    assert (letter.recipient, letter.context) == (f"policy:{case.policy_no}", {"case_id": case.id,
                                                                             "policy_no": case.policy_no})
    # the branch's letter comes back understood: the problem case closes as a success
    closed = revisit_event(session, case.id, "letter_or_onsite_success", sh(date(2026, 10, 9), 10))
    assert closed.state == "closed_success"


@pytest.mark.parametrize("outcome", ["wrong_number", "refused", "language_barrier"])
def test_a_follow_up_the_phone_cannot_finish_goes_to_letter_at_once(session: Session, outcome: str) -> None:
    case = follow_up_case(session)
    after = attempt(session, case.id, outcome, sh(DAY, 16))
    assert (after.state, after.attempt_count) == ("letter_or_onsite", 1)
    assert history(session, case.id)[-1] == ("follow_up_unreachable", "follow_up_call", "letter_or_onsite")
    assert [o.kind for o in orders_of(session, case.id)] == ["problem", "failed_followup"]


@pytest.mark.parametrize(
    ("outcome", "extra"),
    [
        ("connected", {"answers": answers()}),
        ("appointment", {"appointment_at": sh(DAY, 18)}),
        ("not_policyholder", {"appointment_at": sh(DAY, 18)}),
    ],
)
def test_a_follow_up_attempt_that_reached_someone_is_not_recorded_as_an_attempt(
    session: Session, outcome: str, extra: dict
) -> None:
    case = follow_up_case(session)
    before = reload(session, case.id).version
    with pytest.raises(Rejected):
        attempt(session, case.id, outcome, sh(DAY, 16), **extra)
    after = reload(session, case.id)
    assert (after.state, after.version, after.attempt_count) == ("follow_up_call", before, 0)
    assert count(session, CallAttempt) == 1  # the first call only


def test_not_policyholder_on_the_follow_up_is_a_failed_attempt(session: Session) -> None:
    case = follow_up_case(session)
    after = attempt(session, case.id, "not_policyholder", sh(DAY, 16))
    assert (after.state, after.attempt_count, after.next_attempt_at) == ("follow_up_call", 1, sh(DAY, 18))
