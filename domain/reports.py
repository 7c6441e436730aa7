"""The monthly report (月报, SPEC §2.14) and the annual one (年报): figures as set-based SQL aggregates.

Definitions (the spec leaves them to us; traced to seeds 002 第二十二条/第二十三条):

* **Period and cut-off.** A report covers local (Asia/Shanghai) calendar months; every figure is taken
  *as at the end of the period* (audit rows with ``at`` before the first instant of the next month), so a
  re-run months later gives the same figures unless history was corrected.
* **Required (应访件数) — the cohort of a month is the revisits whose cooling-off period ENDED in it.** The
  rule is "completed within the cooling-off period" (SPEC §2.3), so a case can only be judged once its
  period is over. Cohort = new-contract revisits whose ``cooling_off_end`` falls in the period, except those
  cancelled (policy surrendered / cancelled: nothing left to revisit) before the cut-off — read from the
  audit trail, so a case cancelled after the period still counts when the month is re-run later. Every case
  of the cohort has its end on or before the period's last day, i.e. before the cut-off, so each one's
  successes within cooling-off are all counted by the report run on the first working day of the next month
  (a case due 09-29 whose period ends 10-12 and that succeeds on 10-08 is October's, counted on the first
  working day of November). A case whose cooling-off end is not known yet (receipt not signed) belongs to
  no month until it is.
* **HQ success (总公司集中回访成功)**: the case reached ``closed_success`` by the cut-off through HQ's phone —
  events ``close`` (standard), ``remark_recorded`` (sub-standard) or ``follow_up_understood`` (the problem
  case's follow-up call). **Branch follow-up success (分公司后续回访成功)**: reached ``closed_success`` through
  ``letter_or_onsite_success`` (letter / on-site revisit by the branch). The event is read from the audit
  row whose target is ``closed_success`` (a final state: at most one per case).
* **Success rate** = (HQ successes + branch follow-up successes) / required × 100, rounded half-up to two
  decimals; ``None`` when nothing was required.
* **Late**: successes flagged ``late`` (completed after the cooling-off period; SPEC §2.3).
  **Within cooling-off** = successes − late; its share is of the required revisits.
* **Classes**: the cases' recorded classification (unclassified = never reached a class yet), sub-types of
  sub-standard and problem cases, problem categories.
* **Work orders**: orders due in the period (not cancelled). On time = submitted by its due time and never
  overdue; overdue = ever marked overdue (an audit row ``mark_overdue``); explained / quality-listed = the
  overdue orders that got ``explain`` / ``quality_list``; pending = the rest (not yet submitted, not yet
  marked). The trend: the on-time rate of each of the last ``report_trend_months`` months.
* **Complaints**: received = received in the period; closed = closed in the period; on time = closed ones
  whose *first* reply (``first_responded_at``, else ``closed_at``) came by the *regulatory* limit
  (``regulatory_due_at``: 15 days from receipt, or as extended from receipt) — a reopening restarts the
  working reply clock (``reply_due_at``) for the new round but never the report's judgement; satisfaction
  and root causes over the complaints closed in the period.
* **Annual report (年报)**: seeds say "每年12月底汇总全年"; December's figures exist only after December, so
  the annual report is produced together with December's monthly report (first working day of January),
  on the same figures for January–December, stored as period "YYYY".
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, select, true
from sqlmodel import Session

from core.clock import start_of_day
from core.settings import Settings
from domain.classification import CLASSES, SUB_TYPES
from models import AgentMonth, AuditEntry, Complaint, RevisitCase, WorkOrder

HQ_SUCCESS_EVENTS = ("close", "remark_recorded", "follow_up_understood")
BRANCH_SUCCESS_EVENTS = ("letter_or_onsite_success",)


# --- periods ---------------------------------------------------------------------------------------------


def parse_month(text: str) -> date:
    """"YYYY-MM" → the first day of that month; ValueError otherwise."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except (ValueError, AttributeError):
        raise ValueError(f"month must be YYYY-MM, got {text!r}") from None


def month_key(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def add_months(first: date, n: int) -> date:
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def previous_month(day: date) -> date:
    return add_months(day.replace(day=1), -1)


def bounds(first: date, months: int = 1) -> tuple[datetime, datetime]:
    """[start, end) of ``months`` local months from ``first``, as UTC instants."""
    return start_of_day(first), start_of_day(add_months(first, months))


def rate(numerator: int, denominator: int, settings: Settings) -> float | None:
    """A percentage rounded half-up to ``report_rate_decimals``; None when there is nothing to divide."""
    if not denominator:
        return None
    step = Decimal(1).scaleb(-settings.report_rate_decimals)
    return float((Decimal(numerator) * 100 / Decimal(denominator)).quantize(step, rounding=ROUND_HALF_UP))


# --- revisits --------------------------------------------------------------------------------------------


def _closed(target: str, end: datetime) -> Any:
    """case_id → the event that brought the case into ``target`` before ``end``."""
    return (
        select(AuditEntry.case_id.label("case_id"), AuditEntry.event.label("event"))
        .where(AuditEntry.case_kind == "revisit", AuditEntry.target == target, AuditEntry.at < end)
        .subquery()
    )


def cohort_filter(first: date, months: int) -> Any:
    """The required revisits of the period (应访件数): cooling-off ended in it, not cancelled before its end."""
    _, end = bounds(first, months)
    cancelled = exists(
        select(AuditEntry.id).where(
            AuditEntry.case_kind == "revisit",
            AuditEntry.case_id == RevisitCase.id,
            AuditEntry.target == "cancelled",
            AuditEntry.at < end,
        )
    )
    return and_(
        RevisitCase.kind == "new_contract",
        RevisitCase.cooling_off_end >= first,
        RevisitCase.cooling_off_end < add_months(first, months),
        ~cancelled,
    )


def success_columns(end: datetime) -> tuple[Any, list[Any]]:
    """The joined success/failure subqueries and the summed columns: required, hq, branch, late, failed."""
    success = _closed("closed_success", end)
    failed = _closed("closed_failed", end)
    columns = [
        func.count(RevisitCase.id),
        func.coalesce(func.sum(case((success.c.event.in_(HQ_SUCCESS_EVENTS), 1), else_=0)), 0),
        func.coalesce(func.sum(case((success.c.event.in_(BRANCH_SUCCESS_EVENTS), 1), else_=0)), 0),
        func.coalesce(
            func.sum(case((and_(success.c.case_id.is_not(None), RevisitCase.late == true()), 1), else_=0)), 0
        ),
        func.coalesce(func.sum(case((failed.c.case_id.is_not(None), 1), else_=0)), 0),
    ]
    return (success, failed), columns


def _revisit_groups(session: Session, first: date, months: int, end: datetime) -> list[tuple[Any, ...]]:
    (success, failed), columns = success_columns(end)
    stmt = (
        select(RevisitCase.branch_code, RevisitCase.channel, *columns)
        .select_from(RevisitCase)
        .outerjoin(success, success.c.case_id == RevisitCase.id)
        .outerjoin(failed, failed.c.case_id == RevisitCase.id)
        .where(cohort_filter(first, months))
        .group_by(RevisitCase.branch_code, RevisitCase.channel)
    )
    return [tuple(r) for r in session.execute(stmt).all()]


def _group_rows(rows: list[tuple[Any, ...]], index: int, name: str, settings: Settings) -> list[dict[str, Any]]:
    sums: dict[str, list[int]] = {}
    for row in rows:
        acc = sums.setdefault(row[index], [0, 0, 0])
        acc[0] += int(row[2])
        acc[1] += int(row[3])
        acc[2] += int(row[4])
    return [
        {
            name: key,
            "required": req,
            "hq_successes": hq,
            "branch_successes": br,
            "success_rate": rate(hq + br, req, settings),
        }
        for key, (req, hq, br) in sorted(sums.items())
    ]


def revisit_figures(session: Session, first: date, months: int, settings: Settings) -> dict[str, Any]:
    _, end = bounds(first, months)
    rows = _revisit_groups(session, first, months, end)
    required = sum(int(r[2]) for r in rows)
    hq = sum(int(r[3]) for r in rows)
    branch = sum(int(r[4]) for r in rows)
    late = sum(int(r[5]) for r in rows)
    failed = sum(int(r[6]) for r in rows)
    successes = hq + branch
    return {
        "required": required,
        "hq_successes": hq,
        "branch_successes": branch,
        "successes": successes,
        "success_rate": rate(successes, required, settings),
        "within_cooling_off": successes - late,
        "within_cooling_off_share": rate(successes - late, required, settings),
        "late": late,
        "failed": failed,
        "open": required - successes - failed,
        "by_branch": _group_rows(rows, 0, "branch", settings),
        "by_channel": _group_rows(rows, 1, "channel", settings),
    }


def class_figures(session: Session, first: date, months: int) -> dict[str, Any]:
    counts = dict(
        session.execute(
            select(RevisitCase.classification, func.count())
            .where(cohort_filter(first, months))
            .group_by(RevisitCase.classification)
        ).all()
    )
    figures: dict[str, Any] = {cls: int(counts.get(cls, 0)) for cls in CLASSES}
    figures["unclassified"] = int(sum(n for cls, n in counts.items() if cls not in CLASSES))
    # sub-types live in a JSON list: one narrow query over the sub-standard and problem cases, counted here
    detail = session.execute(
        select(RevisitCase.classification, RevisitCase.problem_category, RevisitCase.sub_types).where(
            cohort_filter(first, months), RevisitCase.classification.in_(("substandard", "problem"))
        )
    ).all()
    sub_types: dict[str, Counter[str]] = {"substandard": Counter(), "problem": Counter()}
    categories: Counter[str] = Counter()
    for cls, category, subs in detail:
        sub_types[cls].update(subs or [])
        if cls == "problem" and category:
            categories[category] += 1
    figures["sub_types"] = {
        cls: {s: counter[s] for s in SUB_TYPES if counter[s]} for cls, counter in sub_types.items()
    }
    figures["problem_categories"] = dict(sorted(categories.items()))
    return figures


# --- work orders -----------------------------------------------------------------------------------------


def _ever(event: str, end: datetime) -> Any:
    return exists(
        select(AuditEntry.id).where(
            AuditEntry.case_kind == "work_order",
            AuditEntry.case_id == WorkOrder.id,
            AuditEntry.event == event,
            AuditEntry.at < end,
        )
    )


def work_order_counts(session: Session, first: date, months: int, settings: Settings) -> dict[str, Any]:
    start, end = bounds(first, months)
    overdue = _ever("mark_overdue", end)
    submitted_in_time = exists(
        select(AuditEntry.id).where(
            AuditEntry.case_kind == "work_order",
            AuditEntry.case_id == WorkOrder.id,
            AuditEntry.event == "submit",
            AuditEntry.at <= WorkOrder.due_at,
            AuditEntry.at < end,
        )
    )

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            func.count(WorkOrder.id),
            count_if(and_(submitted_in_time, ~overdue)),
            count_if(overdue),
            count_if(and_(overdue, _ever("explain", end))),
            count_if(and_(overdue, _ever("quality_list", end))),
        ).where(WorkOrder.due_at >= start, WorkOrder.due_at < end, WorkOrder.state != "cancelled")
    ).one()
    due, on_time, over, explained, listed = (int(v) for v in row)
    return {
        "due": due,
        "on_time": on_time,
        "overdue": over,
        "explained": explained,
        "quality_listed": listed,
        "pending": due - on_time - over,
        "on_time_rate": rate(on_time, due, settings),
    }


def work_order_figures(session: Session, first: date, months: int, settings: Settings) -> dict[str, Any]:
    figures = work_order_counts(session, first, months, settings)
    trend_months = months if months > 1 else settings.report_trend_months
    last = add_months(first, months - 1)
    figures["trend"] = []
    for k in range(trend_months - 1, -1, -1):
        m = add_months(last, -k)
        counts = work_order_counts(session, m, 1, settings)
        figures["trend"].append(
            {"month": month_key(m), "due": counts["due"], "on_time": counts["on_time"], "on_time_rate": counts["on_time_rate"]}
        )
    return figures


# --- complaints ------------------------------------------------------------------------------------------


def complaint_figures(session: Session, first: date, months: int, settings: Settings) -> dict[str, Any]:
    start, end = bounds(first, months)
    received = session.execute(
        select(func.count(Complaint.id)).where(Complaint.received_at >= start, Complaint.received_at < end)
    ).scalar_one()
    closed_in = and_(Complaint.closed_at >= start, Complaint.closed_at < end)
    # the first reply against the regulatory limit from receipt: a reopening restarts neither
    replied = func.coalesce(Complaint.first_responded_at, Complaint.responded_at, Complaint.closed_at)
    limit = func.coalesce(Complaint.regulatory_due_at, Complaint.reply_due_at)
    closed, on_time, answered, total_score = session.execute(
        select(
            func.count(Complaint.id),
            func.coalesce(func.sum(case((replied <= limit, 1), else_=0)), 0),
            func.count(Complaint.satisfaction),
            func.coalesce(func.sum(Complaint.satisfaction), 0),
        ).where(closed_in)
    ).one()
    distribution = dict(
        session.execute(
            select(Complaint.satisfaction, func.count())
            .where(closed_in, Complaint.satisfaction.is_not(None))
            .group_by(Complaint.satisfaction)
        ).all()
    )
    causes = session.execute(
        select(Complaint.root_cause, func.count().label("n"))
        .where(closed_in, Complaint.root_cause.is_not(None))
        .group_by(Complaint.root_cause)
        .order_by(func.count().desc(), Complaint.root_cause)
    ).all()
    average = None
    if answered:
        step = Decimal(1).scaleb(-settings.report_rate_decimals)
        average = float((Decimal(int(total_score)) / Decimal(int(answered))).quantize(step, rounding=ROUND_HALF_UP))
    return {
        "received": int(received),
        "closed": int(closed),
        "on_time": int(on_time),
        "on_time_rate": rate(int(on_time), int(closed), settings),
        "satisfaction": {
            "answered": int(answered),
            "average": average,
            "distribution": {str(k): int(distribution.get(k, 0)) for k in range(1, 6)},
        },
        "root_causes": [{"root_cause": c, "count": int(n)} for c, n in causes],
        "top_root_causes": [c for c, _ in causes[: settings.report_top_root_causes]],
    }


# --- agent warnings ----------------------------------------------------------------------------------------


def warning_figures(session: Session, first: date, months: int) -> dict[str, Any]:
    keys = [month_key(add_months(first, k)) for k in range(months)]
    rows = session.execute(
        select(AgentMonth.agent_code, AgentMonth.warned, AgentMonth.investigation)
        .where(AgentMonth.month.in_(keys))
        .order_by(AgentMonth.month, AgentMonth.agent_code)
    ).all()
    return {
        "issued": sum(1 for _, warned, _ in rows if warned),
        "agents": sorted({code for code, warned, _ in rows if warned}),
        "investigations": sorted({code for code, _, inv in rows if inv}),
    }


# --- the whole report -------------------------------------------------------------------------------------


def compute_figures(session: Session, *, first: date, months: int, settings: Settings) -> dict[str, Any]:
    """Every figure of SPEC §2.14 for ``months`` months from ``first`` (1 = monthly, 12 = annual)."""
    period = month_key(first) if months == 1 else f"{first.year:04d}"
    return {
        "month": period,
        "kind": "monthly" if months == 1 else "annual",
        "period_start": first.isoformat(),
        "period_end": (add_months(first, months) - timedelta(days=1)).isoformat(),
        **revisit_figures(session, first, months, settings),
        "classes": class_figures(session, first, months),
        "work_orders": work_order_figures(session, first, months, settings),
        "complaints": complaint_figures(session, first, months, settings),
        "agent_warnings": warning_figures(session, first, months),
    }
