"""Pure rules of the new-contract revisit (SPEC §2.1–2.4, §2.7, §2.9), at their boundary days.

Every moment is an aware datetime built in Asia/Shanghai and handed to the rule; the wall clock is
frozen far away (2031) so that a rule reading it instead of its argument would give itself away.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from core.calendar import WorkdayCalendar
from core.clock import UTC
from core.settings import CoolingOffRule, Settings, get_settings
from domain import revisit_rules as rules
from models import Policy

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar.from_chinese_calendar()
FAR_AWAY = "2031-03-03 03:03:03"  # the frozen wall clock: no rule may look at it

CIVIL_CODE = "2021-civil-code"


@pytest.fixture
def settings() -> Settings:
    return get_settings()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """A wall-clock moment in Asia/Shanghai, as the aware UTC datetime the domain code takes."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH).astimezone(UTC)


def policy(**over: Any) -> Policy:
    """An unsaved policy (the rules read attributes only)."""
    fields: dict[str, Any] = {
        "policy_no": "P1",
        "product_code": "END-20",
        "product_type": "participating",
        "line": "life",
        "term_years": 20,
        "channel": "agency",
        "premium": Decimal("6000.00"),
        "payment_mode": "annual",
        "payment_years": 10,
        "cooling_off_days": 15,
        "issue_date": date(2026, 9, 10),
        "receipt_signed_date": date(2026, 9, 16),
        "receipt_entered_date": date(2026, 9, 17),
        "holder_name": "张丽",
        "holder_phone": "13800138000",
        "agent_code": "A0001",
        "branch_code": "SH01",
        "special_revisit": False,
        "holder_is_natural_person": True,
    }
    fields.update(over)
    return Policy(**fields)


def test_the_calendar_facts_these_tests_rely_on():
    """chinese-calendar data for 2026 (if the package changes, the boundaries below must move too)."""
    national_day = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(CAL.is_workday(d) for d in national_day)
    assert CAL.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5  # make-up Saturday
    assert CAL.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6  # make-up Sunday
    spring = [date(2026, 2, 15) + timedelta(days=k) for k in range(9)]  # 02-15 .. 02-23
    assert not any(CAL.is_workday(d) for d in spring)
    assert CAL.is_workday(date(2026, 2, 14)) and CAL.is_workday(date(2026, 2, 28))  # make-up Saturdays


# --- §2.1 scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"line": "life", "term_years": 1}, False),  # one-year term life: not revisited
        ({"line": "life", "term_years": 2}, True),  # "over one year"
        ({"line": "health", "term_years": 1}, False),
        ({"line": "health", "term_years": 2}, True),
        ({"line": "life", "term_years": 20}, True),
        ({"line": "accident", "term_years": 20}, False),  # accident is out whatever the term
        ({"line": "life", "term_years": 20, "holder_is_natural_person": False}, False),  # a company
    ],
)
def test_scope(over, expected, settings):
    assert rules.in_scope(policy(**over), settings) is expected


# --- §2.2 due date ------------------------------------------------------------------------------------


def test_bancassurance_is_due_the_day_after_issue_whatever_the_receipt(settings):
    p = policy(channel="bancassurance", issue_date=date(2026, 9, 10), receipt_entered_date=date(2026, 9, 20))
    assert rules.due_date(p, settings) == date(2026, 9, 11)
    assert rules.due_date(policy(channel="bancassurance", receipt_entered_date=None), settings) == date(2026, 9, 11)


@pytest.mark.parametrize("channel", ["agency", "telesales", "online"])
def test_other_channels_are_due_the_day_after_the_receipt_was_entered(channel, settings):
    p = policy(channel=channel, issue_date=date(2026, 9, 10), receipt_entered_date=date(2026, 9, 30))
    assert rules.due_date(p, settings) == date(2026, 10, 1)  # calendar days: a holiday does not matter


@pytest.mark.parametrize("channel", ["agency", "telesales", "online"])
def test_no_receipt_entered_means_issue_plus_15_days(channel, settings):
    p = policy(channel=channel, issue_date=date(2026, 9, 10), receipt_signed_date=None, receipt_entered_date=None)
    assert rules.due_date(p, settings) == date(2026, 9, 25)


# --- §2.3 cooling-off ---------------------------------------------------------------------------------


def test_spec_example_signed_0916_ends_after_national_day(settings):
    period = rules.cooling_off(policy(receipt_signed_date=date(2026, 9, 16), cooling_off_days=15), settings, CAL)
    # 09-16 + 15 = 10-01, National Day → 10-08
    assert period == rules.CoolingOff(start=date(2026, 9, 16), end=date(2026, 10, 8), rule_version=CIVIL_CODE)


def test_n_comes_from_the_product(settings):
    # signed Mon 2026-06-01: 15 days → Tue 06-16; 20 days → Sun 06-21 → Mon 06-22
    assert CAL.is_workday(date(2026, 6, 16)) and not CAL.is_workday(date(2026, 6, 21))
    assert rules.cooling_off(policy(receipt_signed_date=date(2026, 6, 1)), settings, CAL).end == date(2026, 6, 16)
    long = policy(receipt_signed_date=date(2026, 6, 1), cooling_off_days=20)
    assert rules.cooling_off(long, settings, CAL).end == date(2026, 6, 22)
    short = policy(receipt_signed_date=date(2026, 6, 1), cooling_off_days=10)  # the floor itself is allowed
    assert rules.cooling_off(short, settings, CAL).end == date(2026, 6, 11)


def test_default_n_is_15_when_the_product_names_none(settings):
    p = policy(receipt_signed_date=date(2026, 6, 1), cooling_off_days=None)
    assert rules.cooling_off(p, settings, CAL).end == date(2026, 6, 16)


def test_n_below_the_floor_is_refused(settings):
    p = policy(receipt_signed_date=date(2026, 6, 1), cooling_off_days=9)
    with pytest.raises(ValueError, match="below the minimum of 10"):
        rules.cooling_off(p, settings, CAL)
    with pytest.raises(ValueError, match="below the minimum of 10"):
        CAL.cooling_off_end(date(2026, 6, 1), 9, settings.cooling_off_rule_for(date(2026, 6, 1)))
    assert rules.cooling_off_days_below_floor(p, settings) is True
    assert rules.cooling_off_days_below_floor(policy(cooling_off_days=10), settings) is False
    assert rules.cooling_off_days_below_floor(policy(cooling_off_days=None), settings) is False


def test_intake_may_run_a_short_product_on_the_floor(settings):
    p = policy(receipt_signed_date=date(2026, 6, 1), cooling_off_days=5)
    assert rules.cooling_off(p, settings, CAL, at_least_floor=True).end == date(2026, 6, 11)  # 10 days


def test_an_end_on_the_make_up_saturday_is_a_working_day_and_not_extended(settings):
    # 09-25 + 15 = Sat 10-10, a make-up working day (调休): the period ends that day
    period = rules.cooling_off(policy(receipt_signed_date=date(2026, 9, 25)), settings, CAL)
    assert period.end == date(2026, 10, 10)
    # the make-up Sunday 09-20 too: 09-05 + 15
    assert rules.cooling_off(policy(receipt_signed_date=date(2026, 9, 5)), settings, CAL).end == date(2026, 9, 20)


@pytest.mark.parametrize(
    ("signed", "weekend_end"),
    [(date(2026, 10, 30), date(2026, 11, 14)), (date(2026, 10, 31), date(2026, 11, 15))],  # Sat, Sun
)
def test_an_end_on_a_plain_weekend_moves_to_monday(signed, weekend_end, settings):
    assert weekend_end.weekday() in (5, 6) and not CAL.is_workday(weekend_end)
    assert rules.cooling_off(policy(receipt_signed_date=signed), settings, CAL).end == date(2026, 11, 16)


def test_an_end_on_the_day_before_a_weekend_stays(settings):
    assert rules.cooling_off(policy(receipt_signed_date=date(2026, 10, 29)), settings, CAL).end == date(2026, 11, 13)


@pytest.mark.parametrize("signed", [date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 8)])
def test_spring_festival_extends_to_the_first_working_day_after_it(signed, settings):
    # ends 02-15, 02-16, 02-23: every day of 02-15..02-23 is a holiday → 02-24
    assert rules.cooling_off(policy(receipt_signed_date=signed), settings, CAL).end == date(2026, 2, 24)


def test_spring_festival_make_up_saturdays_are_working_days(settings):
    assert rules.cooling_off(policy(receipt_signed_date=date(2026, 1, 30)), settings, CAL).end == date(2026, 2, 14)
    assert rules.cooling_off(policy(receipt_signed_date=date(2026, 2, 13)), settings, CAL).end == date(2026, 2, 28)


def test_no_receipt_signed_means_no_period_yet(settings):
    period = rules.cooling_off(policy(receipt_signed_date=None, receipt_entered_date=None), settings, CAL)
    assert period == rules.CoolingOff(start=None, end=None, rule_version=CIVIL_CODE)


# --- §2.3 rule versions -----------------------------------------------------------------------------------

OLD = CoolingOffRule(
    version="v2021", effective_from=date(2021, 1, 1), default_days=15, min_days=10, extend_to_next_workday=True
)
NEW = CoolingOffRule(
    version="v2026-10", effective_from=date(2026, 10, 1), default_days=20, min_days=15, extend_to_next_workday=False
)


@pytest.fixture
def two_rules() -> Settings:
    return Settings(cooling_off_rules=[NEW, OLD])  # listed out of order on purpose


def test_the_rule_in_force_on_the_signed_date_is_chosen(two_rules):
    day_before = policy(receipt_signed_date=date(2026, 9, 30), cooling_off_days=None)
    first_day = policy(receipt_signed_date=date(2026, 10, 1), cooling_off_days=None)
    # old: 09-30 + 15 = 10-15 (Thu)
    assert rules.cooling_off(day_before, two_rules, CAL) == rules.CoolingOff(
        date(2026, 9, 30), date(2026, 10, 15), "v2021"
    )
    # new: 10-01 + 20 = 10-21 (Wed)
    assert rules.cooling_off(first_day, two_rules, CAL) == rules.CoolingOff(
        date(2026, 10, 1), date(2026, 10, 21), "v2026-10"
    )


def test_without_a_signed_receipt_the_issue_date_chooses(two_rules):
    p = policy(issue_date=date(2026, 9, 28), receipt_signed_date=None, receipt_entered_date=None)
    assert rules.cooling_off(p, two_rules, CAL).rule_version == "v2021"


def test_a_case_keeps_its_rule_version(two_rules):
    # signed under the new rule, but the case was created under the old one: the old one still applies
    p = policy(receipt_signed_date=date(2026, 10, 24), cooling_off_days=None)  # +15 = Sun 11-08
    kept = rules.cooling_off(p, two_rules, CAL, "v2021")
    assert kept == rules.CoolingOff(date(2026, 10, 24), date(2026, 11, 9), "v2021")  # extended, 15 days
    fresh = rules.cooling_off(p, two_rules, CAL)  # +20 = Fri 11-13, no extension in the new rule
    assert fresh == rules.CoolingOff(date(2026, 10, 24), date(2026, 11, 13), "v2026-10")
    # the floor is the kept version's too: 12 days is fine under v2021, refused under v2026-10
    twelve = policy(receipt_signed_date=date(2026, 10, 24), cooling_off_days=12)
    assert rules.cooling_off(twelve, two_rules, CAL, "v2021").end == date(2026, 11, 5)
    with pytest.raises(ValueError, match="minimum of 15"):
        rules.cooling_off(twelve, two_rules, CAL)


def test_an_unknown_kept_version_is_an_error(two_rules):
    with pytest.raises(KeyError):
        rules.cooling_off(policy(), two_rules, CAL, "v1999")


def test_a_rule_without_holiday_extension_ends_on_the_holiday(two_rules):
    # signed under the new rule, N = 20 lands on Sunday 11-01: the period ends that Sunday
    p = policy(receipt_signed_date=date(2026, 10, 12), cooling_off_days=20)
    assert rules.cooling_off(p, two_rules, CAL).end == date(2026, 11, 1)


# --- §2.9 intake checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("13800138000", True),
        ("138-0013-8000", True),  # separators are formatting, not digits
        (" 138 0013 8000 ", True),
        ("1380013800", False),  # 10 digits
        ("138001380001", False),  # 12 digits
        ("1380013800a", False),  # a letter
        ("+8613800138000", False),  # '+' is not a digit and the count is wrong
        ("", False),
        (None, False),
    ],
)
def test_phone_validity(phone, valid, settings):
    assert rules.phone_valid(phone, settings) is valid


def flags_of(p: Policy, settings: Settings, *, holders: int = 1, agent_phone: str | None = "13900000001",
             agent_name: str | None = "王强") -> tuple[list[str], str | None]:
    return rules.intake_flags(p, agent_phone=agent_phone, agent_name=agent_name, holders_on_phone=holders,
                              settings=settings)


@pytest.mark.parametrize("phone", ["1380013800", "138001380001", "1380013800a"])
def test_an_invalid_phone_is_a_wrong_number(phone, settings):
    assert flags_of(policy(holder_phone=phone), settings) == (["invalid_phone"], "wrong_number")


def test_an_empty_phone_is_a_wrong_number_unless_a_special_revisit(settings):
    assert flags_of(policy(holder_phone=None), settings) == (["invalid_phone"], "wrong_number")
    assert flags_of(policy(holder_phone=""), settings) == (["invalid_phone"], "wrong_number")
    assert flags_of(policy(holder_phone="", special_revisit=True), settings) == (["special_revisit"], None)
    assert flags_of(policy(holder_phone=None, special_revisit=True), settings) == (["special_revisit"], None)
    # a special revisit with a *malformed* (not empty) phone is still flagged
    assert flags_of(policy(holder_phone="123", special_revisit=True), settings) == (
        ["special_revisit", "invalid_phone"], "wrong_number"
    )


def test_a_valid_phone_raises_no_flag(settings):
    assert flags_of(policy(), settings) == ([], None)


def test_shared_number_starts_at_three_holders(settings):
    assert flags_of(policy(), settings, holders=2) == ([], None)
    assert flags_of(policy(), settings, holders=3) == (["shared_number"], "shared_number")
    assert flags_of(policy(), settings, holders=7) == (["shared_number"], "shared_number")


def test_the_agents_phone_as_the_holders_is_a_shared_number(settings):
    p = policy(holder_phone="13900000001", holder_name="张丽")
    assert flags_of(p, settings) == (["agent_phone"], "shared_number")
    # spelt differently, still the same number
    assert flags_of(p, settings, agent_phone="139-0000-0001") == (["agent_phone"], "shared_number")
    # both at once: two flags, one reason
    assert flags_of(p, settings, holders=3) == (["shared_number", "agent_phone"], "shared_number")


def test_an_agent_insuring_themself_may_give_their_own_number(settings):
    p = policy(holder_phone="13900000001", holder_name="王强")
    assert flags_of(p, settings, agent_name="王强") == ([], None)
    # an agent without a phone on file matches nothing
    assert flags_of(policy(holder_phone="13900000001"), settings, agent_phone=None) == ([], None)


# --- §2.7 callable hours and spacing -------------------------------------------------------------------------


@freeze_time(FAR_AWAY)
@pytest.mark.parametrize(
    ("local_time", "callable_"),
    [
        (time(8, 59, 59), False),
        (time(9, 0, 0), True),
        (time(12, 0, 0), True),
        (time(19, 59, 59), True),
        (time(20, 0, 0), False),
        (time(23, 30, 0), False),
        (time(0, 0, 0), False),
    ],
)
def test_callable_hours_are_counted_in_shanghai(local_time, callable_, settings):
    moment = at(2026, 9, 29, local_time.hour, local_time.minute, local_time.second)
    assert rules.is_callable(moment, settings) is callable_


@freeze_time(FAR_AWAY)
def test_callable_hours_are_not_utc_hours(settings):
    assert rules.is_callable(datetime(2026, 9, 29, 1, 0, tzinfo=UTC), settings)  # 09:00 Shanghai
    assert not rules.is_callable(datetime(2026, 9, 29, 12, 0, tzinfo=UTC), settings)  # 20:00 Shanghai
    assert not rules.is_callable(datetime(2026, 9, 29, 0, 59, 59, tzinfo=UTC), settings)  # 08:59:59
    assert rules.is_callable(datetime(2026, 9, 29, 1, 0), settings)  # naive is read as UTC, as rows store it


@freeze_time(FAR_AWAY)
def test_no_answer_waits_two_hours_busy_thirty_minutes(settings):
    now = at(2026, 9, 29, 10, 0)
    assert rules.next_attempt_at("no_answer", now, 1, settings) == at(2026, 9, 29, 12, 0)
    assert rules.next_attempt_at("busy", now, 1, settings) == at(2026, 9, 29, 10, 30)
    # someone else answered: spaced like no answer
    assert rules.next_attempt_at("not_policyholder", now, 2, settings) == at(2026, 9, 29, 12, 0)


@freeze_time(FAR_AWAY)
def test_spacing_past_20_00_moves_to_the_next_morning(settings):
    next_morning = at(2026, 9, 30, 9, 0)
    # no answer: 17:59:59 + 2 h = 19:59:59, still callable; 18:00 + 2 h = 20:00, not
    assert rules.next_attempt_at("no_answer", at(2026, 9, 29, 17, 59, 59), 1, settings) == at(2026, 9, 29, 19, 59, 59)
    assert rules.next_attempt_at("no_answer", at(2026, 9, 29, 18, 0), 1, settings) == next_morning
    assert rules.next_attempt_at("no_answer", at(2026, 9, 29, 19, 0), 2, settings) == next_morning
    # busy: 19:29 + 30 min = 19:59; 19:30 + 30 min = 20:00
    assert rules.next_attempt_at("busy", at(2026, 9, 29, 19, 29), 1, settings) == at(2026, 9, 29, 19, 59)
    assert rules.next_attempt_at("busy", at(2026, 9, 29, 19, 30), 1, settings) == next_morning


@freeze_time(FAR_AWAY)
def test_callable_hours_run_every_day_including_holidays(settings):
    # 2026-10-01 is National Day: calls still go out (SPEC §2.7 "every day")
    assert rules.next_attempt_at("no_answer", at(2026, 9, 30, 19, 0), 1, settings) == at(2026, 10, 1, 9, 0)


@freeze_time(FAR_AWAY)
def test_the_third_attempt_of_a_day_moves_to_the_next_morning(settings):
    now = at(2026, 9, 29, 10, 0)
    assert rules.next_attempt_at("busy", now, 2, settings) == at(2026, 9, 29, 10, 30)
    assert rules.next_attempt_at("busy", now, 3, settings) == at(2026, 9, 30, 9, 0)
    assert rules.next_attempt_at("no_answer", now, 3, settings) == at(2026, 9, 30, 9, 0)


@freeze_time(FAR_AWAY)
def test_into_callable_hours(settings):
    assert rules.into_callable_hours(at(2026, 9, 29, 7, 0), settings) == at(2026, 9, 29, 9, 0)
    assert rules.into_callable_hours(at(2026, 9, 29, 9, 0), settings) == at(2026, 9, 29, 9, 0)
    assert rules.into_callable_hours(at(2026, 9, 29, 20, 0), settings) == at(2026, 9, 30, 9, 0)
    # 06:00 Shanghai is 22:00 UTC the day before: the opening is the *Shanghai* day's
    assert rules.into_callable_hours(at(2026, 9, 29, 6, 0), settings) == at(2026, 9, 29, 9, 0)


# --- §2.7 the ladder, planned backwards -----------------------------------------------------------------------


def test_the_ladder_needs_seven_working_days(settings):
    needed = (
        settings.work_order_due_workdays["verification"]
        + settings.ladder_recall_workdays
        + settings.ladder_letter_onsite_workdays
    )
    assert needed == 7


@pytest.mark.parametrize(
    ("today", "fits"),
    [
        (date(2026, 9, 28), True),  # 8 working days left
        (date(2026, 9, 29), True),  # the last day it fits: 09-30, 10-08, 10-09, 10-10 (Sat), 10-12, 10-13, 10-14
        (date(2026, 9, 30), False),  # the day after: 6 left
        (date(2026, 10, 1), False),  # National Day counts for nothing: still 6
        (date(2026, 10, 7), False),
    ],
)
def test_branch_verification_fits_across_national_day(today, fits, settings):
    end = date(2026, 10, 14)
    step = rules.branch_verification_fits(today, end, CAL, settings)
    assert step.fits is fits
    if fits:
        assert step.reason is None
    else:
        assert "only 6 working days left" in (step.reason or "") and "2026-10-14" in (step.reason or "")


def test_branch_verification_counts_the_make_up_saturday(settings):
    # end Mon 10-12: (09-28, 10-12] = 09-29, 09-30, 10-08, 10-09, 10-10 (Sat), 10-12 → 6
    assert CAL.workdays_between(date(2026, 9, 28), date(2026, 10, 12)) == 6
    # end Tue 10-13 → 7: fits on 09-28 exactly
    assert rules.branch_verification_fits(date(2026, 9, 28), date(2026, 10, 13), CAL, settings).fits
    assert not rules.branch_verification_fits(date(2026, 9, 28), date(2026, 10, 12), CAL, settings).fits


def test_branch_verification_fits_while_the_period_is_unknown(settings):
    assert rules.branch_verification_fits(date(2026, 9, 29), None, CAL, settings) == rules.LadderStep(True, None)


def test_phone_rungs_fit_while_the_letter_keeps_its_days(settings):
    end = date(2026, 10, 14)  # working days back: 10-14, 10-13, 10-12, 10-10
    assert rules.phone_rungs_fit(date(2026, 10, 9), end, CAL, settings)  # 4 left > 3
    assert not rules.phone_rungs_fit(date(2026, 10, 10), end, CAL, settings)  # 3 left
    assert rules.phone_rungs_fit(date(2026, 10, 10), None, CAL, settings)


# --- §2.3 late and early revisits -----------------------------------------------------------------------------


def test_surrender_as_cooling_off_after_a_late_revisit(settings):
    end = date(2026, 10, 8)
    assert rules.surrender_as_cooling_off_until(date(2026, 10, 7), end, settings) is None
    assert rules.surrender_as_cooling_off_until(end, end, settings) is None  # the last day is still inside
    assert rules.surrender_as_cooling_off_until(date(2026, 10, 9), end, settings) == date(2026, 10, 16)
    assert rules.surrender_as_cooling_off_until(date(2026, 10, 9), None, settings) is None


def test_needs_supplementary_when_the_success_came_before_the_receipt(settings):
    signed = date(2026, 9, 16)
    assert rules.needs_supplementary(date(2026, 9, 15), signed) is True
    assert rules.needs_supplementary(signed, signed) is False  # signed that day: the receipt exists
    assert rules.needs_supplementary(date(2026, 9, 17), signed) is False
    assert rules.needs_supplementary(date(2026, 9, 17), None) is True  # not signed at all yet
