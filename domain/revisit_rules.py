"""Pure rules of the new-contract revisit: scope, due date, cooling-off, intake checks, the ladder.

Every number comes from ``core.settings`` (SPEC §2.1–2.9); every date from the working-day calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.calendar import WorkdayCalendar
from core.clock import at_local, local, start_of_day
from core.settings import CoolingOffRule, Settings

# call-related outcomes (SPEC §4) and the spacing they impose (SPEC §2.7)
RETRY_OUTCOMES = ("no_answer", "busy", "not_policyholder")
CLOSED_STATES = ("closed_success", "closed_failed", "misleading_confirmed", "cancelled")
PHONE_STATES = ("calling", "appointment", "recall")


def in_scope(policy: Any, settings: Settings) -> bool:
    """回访范围 (SPEC §2.1): natural-person policyholder, life or health, term over one year."""
    return (
        bool(getattr(policy, "holder_is_natural_person", True))
        and policy.line in settings.revisit_lines
        and policy.term_years > settings.revisit_min_term_years_exclusive
    )


def due_date(policy: Any, settings: Settings) -> date:
    """清单抽取 (SPEC §2.2): bancassurance the day after issue; others the day after the receipt was entered."""
    if policy.channel == "bancassurance":
        return policy.issue_date + timedelta(days=settings.due_days_after_issue_bancassurance)
    if policy.receipt_entered_date is not None:
        return policy.receipt_entered_date + timedelta(days=settings.due_days_after_receipt_entered)
    return policy.issue_date + timedelta(days=settings.due_days_after_issue_without_receipt)


@dataclass(frozen=True)
class CoolingOff:
    start: date | None  # the receipt-signed date (the period counts from the next day)
    end: date | None
    rule_version: str


def cooling_off_rule(policy: Any, settings: Settings, rule_version: str | None = None) -> CoolingOffRule:
    """The version a case keeps; a new case takes the one in force on the receipt-signed date, else the issue date."""
    if rule_version:
        return settings.cooling_off_rule(rule_version)
    return settings.cooling_off_rule_for(policy.receipt_signed_date or policy.issue_date)


def cooling_off_days_below_floor(policy: Any, settings: Settings, rule_version: str | None = None) -> bool:
    """The product names fewer cooling-off days than the rule's floor (never below 10, SPEC §2.3)."""
    days = policy.cooling_off_days
    return days is not None and days < cooling_off_rule(policy, settings, rule_version).min_days


def cooling_off(
    policy: Any,
    settings: Settings,
    calendar: WorkdayCalendar,
    rule_version: str | None = None,
    *,
    at_least_floor: bool = False,
) -> CoolingOff:
    """犹豫期 (SPEC §2.3) under the rule chosen by ``cooling_off_rule``.

    A product's N below the rule's floor is refused (ValueError), unless ``at_least_floor``: intake
    must not stop on one bad product, so it runs that case on the floor instead (and flags it).
    """
    rule = cooling_off_rule(policy, settings, rule_version)
    signed = policy.receipt_signed_date
    if signed is None:
        return CoolingOff(None, None, rule.version)
    days = policy.cooling_off_days
    if at_least_floor and days is not None:
        days = max(days, rule.min_days)
    end = calendar.cooling_off_end(signed, days, rule)
    return CoolingOff(signed, end, rule.version)


def phone_valid(phone: str | None, settings: Settings) -> bool:
    """A mainland mobile number: the configured digit count, digits only, starting with 1."""
    if not phone:
        return False
    digits = phone.strip().replace("-", "").replace(" ", "")
    return digits.isdigit() and len(digits) == settings.phone_digits and digits.startswith("1")


def normalise_phone(phone: str | None) -> str:
    return (phone or "").strip().replace("-", "").replace(" ", "")


def intake_flags(
    policy: Any, *, agent_phone: str | None, agent_name: str | None, holders_on_phone: int, settings: Settings
) -> tuple[list[str], str | None]:
    """Intake checks (SPEC §2.9): flags and the verification reason they force, if any.

    ``holders_on_phone`` counts the distinct policyholders (this one included) using the phone.
    """
    flags: list[str] = []
    reason: str | None = None
    phone = normalise_phone(policy.holder_phone)
    if policy.special_revisit:
        flags.append("special_revisit")
    if not phone_valid(phone, settings):
        if not (policy.special_revisit and not phone):
            flags.append("invalid_phone")
            reason = "wrong_number"
    else:
        if holders_on_phone >= settings.shared_number_threshold:
            flags.append("shared_number")
            reason = reason or "shared_number"
        # 自保: the agent insures themself, and their own number is then the right one
        agent_is_holder = bool(agent_name) and agent_name == policy.holder_name
        if agent_phone and normalise_phone(agent_phone) == phone and not agent_is_holder:
            flags.append("agent_phone")
            reason = reason or "shared_number"
    return flags, reason


def callable_window(day: date, settings: Settings) -> tuple[datetime, datetime]:
    return at_local(day, settings.callable_from), at_local(day, settings.callable_until)


def is_callable(moment: datetime, settings: Settings) -> bool:
    t = local(moment).time()
    return settings.callable_from <= t < settings.callable_until


def into_callable_hours(moment: datetime, settings: Settings) -> datetime:
    """The moment itself if callable, else the next opening of callable hours."""
    here = local(moment)
    start, end = callable_window(here.date(), settings)
    if moment < start:
        return start
    if moment >= end:
        return callable_window(here.date() + timedelta(days=1), settings)[0]
    return moment


def next_attempt_at(outcome: str, now: datetime, attempts_today: int, settings: Settings) -> datetime:
    """Spacing by outcome (SPEC §2.7); after the day's cap, the next day's opening."""
    if attempts_today >= settings.max_attempts_per_day:
        return callable_window(local(now).date() + timedelta(days=1), settings)[0]
    minutes = {
        "no_answer": settings.retry_after_no_answer_minutes,
        "busy": settings.retry_after_busy_minutes,
    }.get(outcome, settings.retry_after_no_answer_minutes)
    return into_callable_hours(now + timedelta(minutes=minutes), settings)


@dataclass(frozen=True)
class LadderStep:
    fits: bool
    reason: str | None


def branch_verification_fits(
    today: date, cooling_off_end: date | None, calendar: WorkdayCalendar, settings: Settings
) -> LadderStep:
    """Ladder planned backwards (SPEC §2.7): is there room for branch verification + HQ re-call + letter?"""
    if cooling_off_end is None:
        return LadderStep(True, None)
    needed = (
        settings.work_order_due_workdays["verification"]
        + settings.ladder_recall_workdays
        + settings.ladder_letter_onsite_workdays
    )
    left = calendar.workdays_between(today, cooling_off_end)
    if left >= needed:
        return LadderStep(True, None)
    return LadderStep(
        False,
        f"only {left} working days left before the cooling-off end {cooling_off_end.isoformat()}; "
        f"branch verification, re-call and letter/on-site need {needed}: straight to letter/on-site",
    )


def phone_rungs_fit(today: date, cooling_off_end: date | None, calendar: WorkdayCalendar, settings: Settings) -> bool:
    """Whether another phone rung still leaves the letter/on-site rung its working days."""
    if cooling_off_end is None:
        return True
    return calendar.workdays_between(today, cooling_off_end) > settings.ladder_letter_onsite_workdays


def surrender_as_cooling_off_until(
    success_day: date, cooling_off_end: date | None, settings: Settings
) -> date | None:
    """A revisit completed after the period: surrender as in cooling-off for 7 days after it (SPEC §2.3)."""
    if cooling_off_end is None or success_day <= cooling_off_end:
        return None
    return success_day + timedelta(days=settings.surrender_as_cooling_off_days)


def needs_supplementary(success_day: date, receipt_signed: date | None) -> bool:
    """补访: the success came before the cooling-off period started (receipt not yet signed)."""
    return receipt_signed is None or success_day < receipt_signed


# --- cooling-off deadlines the revisit-sweep fires (SPEC §2.3, §2.7) ----------------------------------------

COOLING_OFF_EVENTS = ("ladder_jump", "cooling_off_deadline_near", "cooling_off_expired")


def _first_day_within(end: date, workdays: int, calendar: WorkdayCalendar) -> date:
    """The earliest day from which at most ``workdays`` working days are left before ``end`` (inclusive)."""
    day = end
    while calendar.workdays_between(day - timedelta(days=1), end) <= workdays:
        day -= timedelta(days=1)
    return day


def cooling_off_deadlines(end: date, calendar: WorkdayCalendar, settings: Settings) -> list[tuple[str, datetime]]:
    """When each cooling-off event of a case ending on ``end`` falls due, in firing order.

    ``ladder_jump``: the day another phone rung no longer leaves the letter / on-site rung its working
    days (the same test as ``phone_rungs_fit``); ``cooling_off_deadline_near``: the day only
    ``cooling_off_near_workdays`` working days are left; ``cooling_off_expired``: once the last day has
    ended (the first instant of the day after, so that every deadline fires at ``moment <= now``).
    """
    jump = start_of_day(_first_day_within(end, settings.ladder_letter_onsite_workdays, calendar))
    near = start_of_day(_first_day_within(end, settings.cooling_off_near_workdays, calendar))
    plan = [("ladder_jump", jump), ("cooling_off_deadline_near", near), ("cooling_off_expired", start_of_day(end + timedelta(days=1)))]
    order = {name: i for i, name in enumerate(COOLING_OFF_EVENTS)}
    return sorted(plan, key=lambda item: (item[1], order[item[0]]))


def next_cooling_off_deadline(
    end: date, after: str | None, calendar: WorkdayCalendar, settings: Settings
) -> tuple[str | None, datetime | None]:
    """The deadline that follows ``after`` (None: the first one); (None, None) when none is left."""
    plan = cooling_off_deadlines(end, calendar, settings)
    names = [name for name, _ in plan]
    index = 0 if after is None else names.index(after) + 1
    if index >= len(plan):
        return None, None
    return plan[index]
