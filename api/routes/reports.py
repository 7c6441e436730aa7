"""Reports (SPEC §2.14, §4.1) and quality lists (§2.10): read-only, for supervisors, managers and auditors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from api.deps import Offset, SessionDep, UserDep, require_role
from api.errors import Problem
from core import clock
from core.settings import get_settings
from domain.penalties import commission_held, statement_due
from domain.report_output import html_path
from domain.reports import month_key, parse_month
from models import AgentMonth, MonthlyReport, Penalty, ProxySignatureFinding

router = APIRouter(tags=["reports"])

READERS = ("supervisor", "manager", "auditor")


def _month(value: str) -> str:
    try:
        return month_key(parse_month(value))
    except ValueError as exc:
        raise Problem(422, "Invalid request", str(exc), "invalid-request") from None


def _report(session: SessionDep, period: str, what: str) -> MonthlyReport:
    row = session.execute(select(MonthlyReport).where(MonthlyReport.period == period)).scalar_one_or_none()
    if row is None:
        raise Problem(404, "Not found", f"the {what} report for {period} has not been produced yet")
    return row


def _body(row: MonthlyReport) -> dict[str, Any]:
    return {**row.figures, "produced_at": clock.as_utc(row.produced_at).isoformat(), "version": row.version}


@router.get("/reports/monthly")
def monthly_report(session: SessionDep, user: UserDep, month: Annotated[str, Query()]) -> dict[str, Any]:
    require_role(user, *READERS)
    return _body(_report(session, _month(month), "monthly"))


@router.get("/reports/monthly/{month}.html", response_class=HTMLResponse)
def monthly_report_html(month: str, session: SessionDep, user: UserDep) -> HTMLResponse:
    require_role(user, *READERS)
    row = _report(session, _month(month), "monthly")
    path = html_path(row.period, get_settings())
    if not path.exists():
        raise Problem(404, "Not found", f"the HTML file of the {row.period} report is missing; re-run the flow")
    return HTMLResponse(path.read_text(encoding="utf-8"))


@router.get("/reports/annual")
def annual_report(session: SessionDep, user: UserDep, year: Annotated[int, Query(ge=2000, le=2999)]) -> dict[str, Any]:
    require_role(user, *READERS)
    return _body(_report(session, f"{year:04d}", "annual"))


@router.get("/quality/agents")
def agent_months(
    session: SessionDep,
    user: UserDep,
    month: Annotated[str, Query()],
    below: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Each agent's phone-revisit success rate of the month, warnings and contract-investigation flags."""
    require_role(user, *READERS)
    stmt = select(AgentMonth).where(AgentMonth.month == _month(month))
    if below is not None:
        stmt = stmt.where(AgentMonth.below_threshold == below)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.order_by(AgentMonth.success_rate, AgentMonth.agent_code).limit(limit).offset(offset)
    ).scalars()
    items = [
        {
            "agent_code": r.agent_code, "branch": r.branch_code, "month": r.month, "required": r.required,
            "hq_successes": r.hq_successes, "success_rate": r.success_rate, "below_threshold": r.below_threshold,
            "months_running": r.months_running, "warned": r.warned, "investigation": r.investigation,
        }
        for r in rows
    ]
    return {"items": items, "total": total, "threshold": get_settings().agent_warning_success_rate}


@router.get("/quality/penalties")
def penalties(
    session: SessionDep,
    user: UserDep,
    month: Annotated[str, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The month's proxy-signature fines, with the re-signing and commission-hold state of their finding."""
    require_role(user, *READERS)
    period = _month(month)
    stmt = (
        select(Penalty, ProxySignatureFinding)
        .join(ProxySignatureFinding, ProxySignatureFinding.id == Penalty.finding_id)
        .where(Penalty.month == period)
    )
    total_cny = session.execute(
        select(func.coalesce(func.sum(Penalty.amount_cny), 0)).where(Penalty.month == period)
    ).scalar_one()
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    now = clock.now()
    items = [
        {
            "id": p.id, "month": p.month, "case_kind": f.case_kind, "case_id": f.case_id, "policy_no": f.policy_no,
            "agent_code": p.agent_code, "rule_case": p.rule_case, "role": p.role, "person_code": p.person_code,
            "amount_cny": p.amount_cny, "signed_by": f.signed_by, "resign_order_id": f.resign_order_id,
            "resign_due_at": clock.as_utc(f.resign_due_at).isoformat() if f.resign_due_at else None,
            "commission_held": commission_held(f, now),
            "resigned_at": clock.as_utc(f.resigned_at).isoformat() if f.resigned_at else None,
            "statement_due": statement_due(f, now),
        }
        for p, f in session.execute(stmt.order_by(Penalty.id).limit(limit).offset(offset)).all()
    ]
    return {"items": items, "total": total, "total_cny": int(total_cny)}
