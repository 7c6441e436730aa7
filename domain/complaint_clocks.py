"""The clocks of a complaint (SPEC §2.12, §2.11): when each falls due and when it warns. Pure functions.

What "N days" means here — decided, since neither the SPEC nor the seeds say more than "15 days":
- the **reply** limit counts calendar days from receipt, the day of receipt not counted (民法典 Art. 201,
  as for the cooling-off period), and falls due at the **end of the last day, Asia/Shanghai**; it is not
  moved off a holiday (a regulatory consumer limit: we would rather answer early than argue the rollover).
  Received Mon 2026-10-12 10:00 → due 2026-10-27 23:59:59.999999 +08:00; on the 28th it is overdue.
  Extensions count from the same start: 30 days (with notice) and a further 30 (with approval) → 60.
  After a reopening the clock restarts from the reopening (the complainant's new round).
- the **acknowledgement** is due 24 h after receipt, to the minute (an hour rule, not a day rule).
- the **progress feedback** is due at the end of the 2nd working day after the day of receipt (SPEC §2.4
  ``due_at``), counted in the working-day calendar (weekends, holidays, make-up working days).
- a **post-claim problem** (SPEC §2.11) has its own: response 24 h, solution 48 h, to the minute, and no
  feedback clock (the solution is due before one would be).

Each clock warns at settings.complaint_warning_fractions of its span (elapsed time from its start to its
due time) and escalates at 100 %; a clock is "reached" at a moment ``t`` when ``t >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.calendar import WorkdayCalendar
from core.clock import as_utc, end_of_day, local_date
from core.settings import Settings
from statemachines.complaint import BEFORE_REPLY

CLOCKS = ("ack", "feedback", "reply")
POST_CLAIM = "post_claim"


@dataclass(frozen=True)
class Clock:
    name: str  # ack | feedback | reply
    start: datetime
    due: datetime
    level: int  # thresholds acted on so far (the row's <name>_alert)

    def thresholds(self, fractions: list[float]) -> list[datetime]:
        span = self.due - self.start
        return [self.start + span * f for f in fractions] + [self.due]

    def reached(self, at: datetime, fractions: list[float]) -> int:
        """How many thresholds (warnings, then the deadline) lie at or before ``at``."""
        return sum(1 for t in self.thresholds(fractions) if at >= t)

    def next_threshold(self, fractions: list[float]) -> datetime | None:
        marks = self.thresholds(fractions)
        return marks[self.level] if self.level < len(marks) else None


def ack_due(received_at: datetime, source: str, settings: Settings) -> datetime:
    hours = settings.claim_problem_response_hours if source == POST_CLAIM else settings.complaint_ack_hours
    return as_utc(received_at) + timedelta(hours=hours)


def feedback_due(received_at: datetime, source: str, settings: Settings, calendar: WorkdayCalendar) -> datetime | None:
    if source == POST_CLAIM:
        return None
    return calendar.due_at(local_date(received_at), settings.complaint_feedback_workdays)


def reply_days(extension_count: int, settings: Settings) -> int:
    if extension_count >= 2:
        return settings.complaint_extension_days + settings.complaint_further_extension_days
    if extension_count == 1:
        return settings.complaint_extension_days
    return settings.complaint_reply_days


def reply_due(started_at: datetime, source: str, extension_count: int, settings: Settings) -> datetime:
    if source == POST_CLAIM:
        return as_utc(started_at) + timedelta(hours=settings.claim_problem_solution_hours)
    return end_of_day(local_date(started_at) + timedelta(days=reply_days(extension_count, settings)))


def running_clocks(c: Any) -> list[Clock]:
    """The clocks still running on a complaint row (or a row-like mapping object)."""
    clocks: list[Clock] = []
    if c.state == "closed":
        return clocks
    if c.acknowledged_at is None and c.ack_due_at is not None:
        clocks.append(Clock("ack", as_utc(c.received_at), as_utc(c.ack_due_at), c.ack_alert))
    if c.feedback_due_at is not None and c.feedback_given_at is None and c.state in BEFORE_REPLY:
        clocks.append(Clock("feedback", as_utc(c.received_at), as_utc(c.feedback_due_at), c.feedback_alert))
    if c.reply_due_at is not None and c.state in BEFORE_REPLY:
        start = as_utc(c.reply_started_at or c.received_at)
        clocks.append(Clock("reply", start, as_utc(c.reply_due_at), c.reply_alert))
    return clocks


def next_marks(c: Any, fractions: list[float]) -> tuple[datetime | None, datetime | None]:
    """(next_deadline_at: the next threshold the sweep acts on, next_due_at: the earliest running due time)."""
    clocks = running_clocks(c)
    pending = [t for t in (k.next_threshold(fractions) for k in clocks) if t is not None]
    return (min(pending) if pending else None, min((k.due for k in clocks), default=None))
