"""Claim revisit rules at their boundaries (SPEC §2.11): the due date across National Day, the three
care-touch dates, the 24 h / 48 h problem clocks, the large-claim adviser, the claim questionnaire."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from core.calendar import WorkdayCalendar
from core.clock import UTC
from core.settings import Settings
from domain import claims as rules
from domain.claim_classification import (
    CLAIM_DISSATISFIED,
    CLAIM_EXPLANATION_NEEDED,
    CLAIM_LIABILITY_UNCLEAR,
    CLAIM_SERVICE_AVERAGE,
    classify_claim,
)
from domain.classification import IncompleteAnswers, classify_revisit

CAL = WorkdayCalendar.from_chinese_calendar()
S = Settings()


# --- the 5-working-day due date ----------------------------------------------------------------------


def test_calendar_data_the_due_date_relies_on() -> None:
    # National Day 2026: 10-01..10-07 off, Sat 10-10 a make-up working day, Sun 10-11 off
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.is_workday(date(2026, 10, 10)) and not CAL.is_workday(date(2026, 10, 11))


@pytest.mark.parametrize(
    ("closed", "last_day"),
    [
        # 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12 — the holiday week counts for nothing
        (date(2026, 9, 29), date(2026, 10, 12)),
        # 10-08, 10-09, 10-10, 10-12, 10-13: closed on the last working day before the holiday
        (date(2026, 9, 30), date(2026, 10, 13)),
        # closed inside the holiday: counting starts at its end
        (date(2026, 10, 3), date(2026, 10, 13)),
        # closed on the make-up Saturday: 10-12 … 10-16
        (date(2026, 10, 10), date(2026, 10, 16)),
        # an ordinary week: Mon → next Mon
        (date(2026, 11, 2), date(2026, 11, 9)),
    ],
)
def test_revisit_due_date_is_the_fifth_working_day_after_closing(closed: date, last_day: date) -> None:
    assert rules.revisit_due_date(closed, CAL, S) == last_day
    due_by = rules.revisit_due_by(closed, CAL, S)
    # the end of that day in Shanghai: 23:59:59.999999 +08:00 = 15:59:59.999999 UTC
    assert due_by == datetime.combine(last_day, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=16, microseconds=-1
    )


def test_revisit_due_date_follows_the_setting() -> None:
    assert rules.revisit_due_date(date(2026, 9, 29), CAL, Settings(claim_revisit_due_workdays=4)) == date(2026, 10, 10)


# --- care touches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closed", "week1", "month1"),
    [
        (date(2026, 9, 29), date(2026, 10, 6), date(2026, 10, 29)),  # calendar days: a holiday moves nothing
        (date(2027, 1, 31), date(2027, 2, 7), date(2027, 2, 28)),  # no 02-31: the month's last day
        (date(2028, 1, 31), date(2028, 2, 7), date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), date(2026, 4, 7), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2026, 12, 22), date(2027, 1, 15)),  # across the year
    ],
)
def test_three_touch_dates(closed: date, week1: date, month1: date) -> None:
    assert rules.touch_dates(closed, S) == {"day0": closed, "week1": week1, "month1": month1}


def test_touch_is_due_when_callable_hours_open() -> None:
    # 09:00 Asia/Shanghai = 01:00 UTC, on a Sunday as on any day (SPEC §2.7: calls every day)
    assert rules.touch_due_at(date(2027, 2, 28), S) == datetime(2027, 2, 28, 1, 0, tzinfo=UTC)


# --- the 24 h / 48 h clocks ---------------------------------------------------------------------------


def test_problem_clocks_are_exactly_24_and_48_hours() -> None:
    raised = datetime(2026, 9, 30, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Shanghai, the eve of National Day
    clock = rules.problem_clock(raised, S)
    # hours, not working days: the holiday does not stop the clock
    assert clock.response_due_at == datetime(2026, 10, 1, 15, 59, 59, tzinfo=UTC)
    assert clock.solution_due_at == datetime(2026, 10, 2, 15, 59, 59, tzinfo=UTC)
    assert clock.response_due_at - raised == timedelta(hours=S.claim_problem_response_hours) == timedelta(hours=24)
    assert clock.solution_due_at - raised == timedelta(hours=48)


# --- the large-claim adviser ---------------------------------------------------------------------------


def test_large_claim_is_strictly_above_the_threshold() -> None:
    assert S.claim_large_amount_cny == 100_000
    assert not rules.is_large(Decimal("100000.00"), S)
    assert rules.is_large(Decimal("100001.00"), S)
    assert rules.is_large(Decimal("100000.01"), S)


def test_adviser_with_fewest_open_revisits_ties_in_list_order() -> None:
    advisers = ["li", "wang", "zhao"]
    assert rules.pick_adviser({}, advisers) == "li"
    assert rules.pick_adviser({"li": 1}, advisers) == "wang"
    assert rules.pick_adviser({"li": 1, "wang": 1, "zhao": 0}, advisers) == "zhao"
    assert rules.pick_adviser({"li": 3}, []) is None


# --- the claim questionnaire -----------------------------------------------------------------------------

GOOD = {"identity": "yes", "service_satisfaction": 5, "liability_clear": "yes", "staff_attitude": "good"}


def _claim(answers: dict, details: dict | None = None, outcome: str = "connected"):  # type: ignore[no-untyped-def]
    return classify_revisit(
        kind="claim", outcome=outcome, answers=answers, product_type="participating", payment_mode="annual",
        details=details, settings=S,
    )


@pytest.mark.parametrize(
    ("change", "details", "cls", "category", "sub_types"),
    [
        ({}, None, "standard", None, ()),
        ({"service_satisfaction": "4"}, {"suggestion": "faster payout"}, "standard", None, ()),
        ({"service_satisfaction": 3}, None, "substandard", None, (CLAIM_SERVICE_AVERAGE,)),
        ({"staff_attitude": "average"}, None, "substandard", None, (CLAIM_SERVICE_AVERAGE,)),
        ({"liability_clear": "corrected"}, None, "substandard", None, (CLAIM_LIABILITY_UNCLEAR,)),
        ({"liability_clear": "no"}, None, "problem", CLAIM_EXPLANATION_NEEDED, ()),
        ({"service_satisfaction": 2}, None, "problem", CLAIM_DISSATISFIED, ()),
        ({"staff_attitude": "poor"}, None, "problem", CLAIM_DISSATISFIED, ()),
        ({}, {"problem": "the payout is short by ¥800"}, "problem", CLAIM_DISSATISFIED, ()),
        ({}, {"data_mismatch": True}, "verification", None, ()),
    ],
)
def test_claim_classes(change: dict, details: dict | None, cls: str, category: str | None, sub_types: tuple) -> None:
    verdict = _claim({**GOOD, **change}, details)
    assert (verdict.cls, verdict.problem_category, verdict.sub_types) == (cls, category, sub_types)


def test_claim_call_not_completed_and_not_the_claimant() -> None:
    assert _claim({}, outcome="no_answer").cls is None
    assert _claim({}, outcome="wrong_number").verification_reason == "wrong_number"
    assert _claim({**GOOD, "identity": "no"}).not_policyholder


@pytest.mark.parametrize(
    "answers",
    [
        {**GOOD, "service_satisfaction": 0},
        {**GOOD, "service_satisfaction": 6},
        {**GOOD, "service_satisfaction": "4.5"},
        {**GOOD, "service_satisfaction": True},
        {**GOOD, "staff_attitude": "yes"},
        {**GOOD, "coverage_known": "yes"},  # a new-contract item is not a claim item
    ],
)
def test_claim_answers_are_validated(answers: dict) -> None:
    with pytest.raises(ValueError):
        _claim(answers)


def test_claim_call_needs_every_item() -> None:
    with pytest.raises(IncompleteAnswers) as err:
        _claim({"identity": "yes", "service_satisfaction": 5})
    assert err.value.missing == ["liability_clear", "staff_attitude"]


def test_new_contract_classification_is_unchanged_by_kind() -> None:
    verdict = classify_revisit(
        kind="new_contract", outcome="connected", answers={"identity": "no"}, product_type="participating",
        payment_mode="annual",
    )
    assert verdict.not_policyholder
    with pytest.raises(ValueError):  # a claim item is not a new-contract item
        classify_revisit(kind="new_contract", outcome="connected", answers=GOOD, product_type="traditional",
                         payment_mode="single")
    direct = classify_claim(outcome="connected", answers=GOOD, details=None, settings=S)
    assert direct.cls == "standard"
