"""Agent quality (品质管理, SPEC §2.10): monthly phone-revisit success rate per selling agent.

* **Phone-revisit success rate** of an agent for a month = HQ successes (``close``, ``remark_recorded``,
  ``follow_up_understood`` — the phone revisit, not the branch's letter / on-site follow-up) / the agent's
  required new-contract revisits of that month × 100 (same cohort and cut-off as the monthly report: the
  revisits whose cooling-off period ended in the month, so every success within cooling-off is in).
* **Below the threshold** is decided on the exact fraction (hq × 100 < threshold × required), so 79.996 %
  is below 80 % even though it shows as 80.00.
* **Warning SMS** (预警短信): an ``agent_warning`` outbox message, one per agent and month (dedupe key
  ``agent_warning:<code>:<YYYY-MM>``).
* **Three months running** (持续偏低 → 契约调查): the agent's rate is below the threshold in each of
  ``agent_investigation_months`` consecutive *calendar* months ending with this one. A month in which the
  agent had no required revisit has no rate, and so it breaks the run: an investigation is a serious step
  and must rest on evidence in every month of the run. ``months_running`` is counted back at most that
  many months.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import Session

from domain.reports import add_months, bounds, cohort_filter, month_key, rate, success_columns
from models import Agent, AgentMonth, RevisitCase
from statemachines.engine import Message, enqueue

if TYPE_CHECKING:
    from domain.revisits import Ctx


def agent_month_counts(session: Session, first: date) -> dict[str, tuple[str, int, int]]:
    """agent code → (branch, required, HQ successes) for the month starting ``first``."""
    _, end = bounds(first)
    (success, _), columns = success_columns(end)
    stmt = (
        select(RevisitCase.agent_code, func.max(RevisitCase.branch_code), columns[0], columns[1])
        .select_from(RevisitCase)
        .outerjoin(success, success.c.case_id == RevisitCase.id)
        .where(cohort_filter(first, 1), RevisitCase.agent_code.is_not(None))
        .group_by(RevisitCase.agent_code)
    )
    return {code: (branch, int(req), int(hq)) for code, branch, req, hq in session.execute(stmt).all()}


def _below(required: int, hq: int, threshold: float) -> bool:
    return required > 0 and hq * 100 < threshold * required


def assess_agents(session: Session, *, first: date, ctx: Ctx) -> dict[str, Any]:
    """Compute (or re-compute) every agent's month, queue warnings and flag investigations; flushes."""
    s = ctx.settings
    month = month_key(first)
    threshold = s.agent_warning_success_rate
    run_months = s.agent_investigation_months
    history = [agent_month_counts(session, add_months(first, -k)) for k in range(run_months)]
    current = history[0]
    names = dict(session.execute(select(Agent.code, Agent.name).where(Agent.code.in_(list(current)))).all())
    existing = {
        r.agent_code: r for r in session.execute(select(AgentMonth).where(AgentMonth.month == month)).scalars()
    }
    messages: list[tuple[Message, str | None, int | None]] = []
    warned, flagged = [], []
    for code, (branch, required, hq) in sorted(current.items()):
        below = _below(required, hq, threshold)
        running = 0
        for counts in history:
            if code in counts and _below(counts[code][1], counts[code][2], threshold):
                running += 1
            else:
                break
        values = {
            "branch_code": branch,
            "required": required,
            "hq_successes": hq,
            "success_rate": rate(hq, required, s),
            "below_threshold": below,
            "months_running": running,
            "warned": below,
            "investigation": running >= run_months,
        }
        row = existing.pop(code, None)
        if row is None:
            session.add(AgentMonth(agent_code=code, month=month, computed_at=ctx.now, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.computed_at = ctx.now
            session.add(row)
        if below:
            warned.append(code)
            messages.append(
                (
                    Message(
                        channel="sms",
                        template="agent_warning",
                        recipient=f"agent:{code}",
                        context={
                            "agent_code": code,
                            "agent_name": names.get(code, code),
                            "month": month,
                            "success_rate": values["success_rate"],
                            "threshold": threshold,
                        },
                        dedupe_key=f"agent_warning:{code}:{month}",
                    ),
                    "agent",
                    None,
                )
            )
        if values["investigation"]:
            flagged.append(code)
    for stale in existing.values():  # an agent whose cases moved away since the last run
        session.delete(stale)
    queued = enqueue(session, messages, now=ctx.now)
    session.flush()
    return {"agents": len(current), "warned": warned, "investigations": flagged, "warnings_queued": queued}
