"""Claim revisit rules (理赔回访, SPEC §2.11): due date, care-touch dates, the large-claim adviser, and
the post-claim problem clocks. Pure functions first; ``raise_post_claim_problem`` is the one writer.

Decisions the SPEC leaves open (documented here and in the README):

* ``revisit_due_by`` is the end (Asia/Shanghai) of the ``claim_revisit_due_workdays``-th working day
  after the closing day, the closing day not counted (as every working-day rule, SPEC §2.4). The revisit
  joins the call queue the day after closing.
* A care touch's ``+1 month`` is the same day of the next month, or that month's last day when it has
  no such day: closed 01-31 → 02-28, or 02-29 in a leap year (the usual reading of 一个月, as
  ``dateutil.relativedelta``); 03-31 → 04-30.
* A touch is due at the opening of callable hours on its date (09:00): calendar days, not working days.
* A large claim is one *above* ``claim_large_amount_cny`` (the threshold itself is not large); its
  owner is the adviser of ``settings.claim_advisers`` with the fewest open claim revisits, ties in list
  order (so the list also says who comes first).
* A problem on the claim revisit call has one track: the post-claim complaint (24 h response / 48 h
  solution) is its follow-up — no branch problem order. The call made in time ends the
  ``claim_revisit_due_workdays`` limit (no late mark), and the revisit closes (``follow_up_understood``)
  when that complaint closes (``post_claim_problem_closed``).
"""

from __future__ import annotations

import calendar as pycal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import at_local, end_of_day
from core.settings import Settings
from models import CareTouch, Claim, RevisitCase
from statemachines.engine import Message, apply_event, queue_message

TOUCH_KINDS: tuple[str, ...] = ("day0", "week1", "month1")  # 当日 / 一周 / 一个月
REVISIT_TOUCH = "revisit"  # a problem raised on the claim revisit call itself, not in a care touch
LARGE_CLAIM = "large_claim"
NO_ADVISER = "claim_adviser_missing"


# --- dates --------------------------------------------------------------------------------------------


def revisit_due_date(closed: date, calendar: WorkdayCalendar, settings: Settings) -> date:
    """The last day of the claim revisit: the n-th working day after closing (SPEC §2.11: 5)."""
    return calendar.add_workdays(closed, settings.claim_revisit_due_workdays)


def revisit_due_by(closed: date, calendar: WorkdayCalendar, settings: Settings) -> datetime:
    """``revisit_due_by`` of SPEC §4.1: the end of that day, as UTC."""
    return end_of_day(revisit_due_date(closed, calendar, settings))


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, or the last day of that month when it is shorter (01-31 + 1 → 02-28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, pycal.monthrange(year, month)[1]))


def touch_dates(closed: date, settings: Settings) -> dict[str, date]:
    """The three care touches (SPEC §2.11): closing day, +7 days, +1 month — calendar days."""
    return {
        "day0": closed,
        "week1": closed + timedelta(days=settings.claim_care_week_days),
        "month1": add_months(closed, settings.claim_care_months),
    }


def touch_due_at(day: date, settings: Settings) -> datetime:
    """A touch falls due when callable hours open on its day (SPEC §2.7: 09:00 Asia/Shanghai)."""
    return at_local(day, settings.callable_from)


# --- the large-claim adviser ---------------------------------------------------------------------------


def is_large(amount: Decimal, settings: Settings) -> bool:
    """Above the threshold (the threshold itself is not large)."""
    return Decimal(amount) > Decimal(settings.claim_large_amount_cny)


def pick_adviser(open_load: Mapping[str, int], advisers: Sequence[str]) -> str | None:
    """The adviser with the fewest open claim revisits; ties go to the earlier one in the list."""
    if not advisers:
        return None
    return min(advisers, key=lambda name: (open_load.get(name, 0), advisers.index(name)))


# --- post-claim problems --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemClock:
    response_due_at: datetime
    solution_due_at: datetime


def problem_clock(raised_at: datetime, settings: Settings) -> ProblemClock:
    """SPEC §2.11: a response within 24 hours and a solution within 48 hours of the problem being raised."""
    return ProblemClock(
        response_due_at=raised_at + timedelta(hours=settings.claim_problem_response_hours),
        solution_due_at=raised_at + timedelta(hours=settings.claim_problem_solution_hours),
    )


def raise_post_claim_problem(
    session: Session, *, ctx: Any, revisit: RevisitCase, touch_kind: str, content: str
) -> ProblemClock:
    """A problem raised after a claim (a care touch, or the claim revisit call): start its clocks and tell
    the owner. Runs inside the caller's transaction (no commit); the caller's transition is the audit."""
    clock = problem_clock(ctx.now, ctx.settings)
    if touch_kind == REVISIT_TOUCH:
        revisit.problem_response_due_at = clock.response_due_at
        revisit.problem_solution_due_at = clock.solution_due_at
        session.add(revisit)
    else:
        stmt = select(CareTouch).where(CareTouch.revisit_case_id == revisit.id, CareTouch.kind == touch_kind)
        touch = session.execute(stmt).scalars().one()
        touch.problem = content
        touch.response_due_at = clock.response_due_at
        touch.solution_due_at = clock.solution_due_at
        session.add(touch)
    # the follow-up is a complaint of source post_claim: its 24 h / 48 h clocks are the complaint machine's,
    # so complaint-sla-sweep warns and escalates a missed response or solution (SPEC §2.11, §2.12)
    from domain.complaints import open_complaint

    claim = session.execute(select(Claim).where(Claim.claim_no == revisit.claim_no)).scalars().first()
    open_complaint(
        session, ctx=ctx, source="post_claim", channel="claim_revisit" if touch_kind == REVISIT_TOUCH else "care_touch",
        complainant_name=claim.claimant_name if claim else revisit.policy_no,
        complainant_phone=claim.claimant_phone if claim else None, content=content, category="claim_service",
        policy_no=revisit.policy_no, revisit_case_id=revisit.id, claim_no=revisit.claim_no, owner=revisit.owner,
    )
    recipient = f"user:{revisit.owner}" if revisit.owner else f"supervisor:{revisit.branch_code}"
    queue_message(
        session,
        Message(
            channel="internal",
            template="revisit_escalation",
            recipient=recipient,
            context={
                "case_id": revisit.id,
                "policy_no": revisit.policy_no,
                "branch": revisit.branch_code,
                "reason": (
                    f"post-claim problem ({touch_kind}) on claim {revisit.claim_no}: {content} — respond by "
                    f"{clock.response_due_at.isoformat()}, solve by {clock.solution_due_at.isoformat()}"
                ),
                "cooling_off_end": None,  # a claim revisit has no cooling-off period
            },
            dedupe_key=f"claim_problem:{revisit.id}:{touch_kind}",
        ),
        kind="revisit",
        case_id=revisit.id,
        now=ctx.now,
    )
    return clock


def post_claim_problem_closed(session: Session, *, complaint: Any, ctx: Any) -> bool:
    """The post-claim complaint raised on the claim revisit call is closed: the revisit closes with it.

    SPEC §2.11 gives a problem after a claim one track — response in 24 h, solution in 48 h, else escalate —
    and that track is the complaint (its result, satisfaction and follow-up revisit before ``close``). So
    the claim revisit's own follow-up is that complaint: ``explanation_recorded`` (the solution given) and
    ``follow_up_understood`` (the complaint's follow-up revisit), both citing the complaint. Runs inside
    the caller's transaction; True when the revisit moved.
    """
    revisit = session.get(RevisitCase, complaint.revisit_case_id) if complaint.revisit_case_id else None
    if revisit is None or revisit.kind != "claim" or revisit.state != "problem":
        return False
    payload = {"complaint_id": complaint.id, "follow_up_result": (complaint.details or {}).get("follow_up_result")}
    for event, changes in (
        ("explanation_recorded", {}),
        ("follow_up_understood", {"closed_at": ctx.now, "next_deadline_at": None}),
    ):
        apply_event(
            session, kind="revisit", case_id=revisit.id, event=event, actor=ctx.actor, now=ctx.now,
            payload=payload, changes=changes, flow_run_id=ctx.flow_run_id, commit=False,
        )
    return True
