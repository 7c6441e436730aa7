"""Proxy-signature penalties (代签字扣罚, SPEC §2.10; seeds 002 "代签名" A–D), applied from the rules table
``settings.proxy_signature_penalties``.

* Which row of the table applies: the agent has left (``Agent.active`` false) → ``agent_departed`` (¥500 each
  to the direct supervisor and the department manager, nothing to the agent), whoever signed; else signed by
  the agent → ``agent_signed``; else ``customer_side`` (someone on the customer's side signed).
* Re-signing (补签): a ``resign`` work order, due in ``work_order_due_workdays["resign"]`` (5) working days.
* Not re-signed in time (补签逾期): SPEC §2.10 "not re-signed in time → the agent's written statement is due
  and commission is withheld until re-signed". Both are derived as read, not stored, from the re-signing
  due time and ``resigned_at`` (set when the re-signing order is accepted):
  ``statement_due`` (书面说明) and ``commission_held`` (暂扣佣金) are true once the due time has passed
  without re-signing, and stay true until the documents are re-signed (待完成后再补发). During the
  5-working-day window nothing is held. A departed agent has no commission left to hold and no agent to
  write a statement. (The stored ``ProxySignatureFinding.commission_held`` column is no longer the truth:
  it is written false and kept only until a migration drops it.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import Session

from core.clock import as_utc, local_date
from domain.work_orders import create_work_order, notice
from models import Agent, Penalty, ProxySignatureFinding, WorkOrder
from statemachines.engine import queue_message

if TYPE_CHECKING:
    from domain.revisits import Ctx

SIGNED_BY = ("customer_side", "agent")
ROLE_PERSON = {"agent": "code", "supervisor": "supervisor_code", "manager": "manager_code"}


def rule_case_for(agent: Agent | None, signed_by: str) -> str:
    if agent is not None and not agent.active:
        return "agent_departed"
    return "agent_signed" if signed_by == "agent" else "customer_side"


def record_proxy_signature_penalties(
    session: Session,
    *,
    ctx: Ctx,
    case: Any,
    case_kind: str = "revisit",
    signed_by: str = "customer_side",
    resign_order: WorkOrder | None = None,
) -> ProxySignatureFinding:
    """At the confirmation of a proxy signature: finding, fines, re-signing order, hold. Once per case; flushes."""
    if signed_by not in SIGNED_BY:
        raise ValueError(f"signed_by must be one of {', '.join(SIGNED_BY)}, not {signed_by!r}")
    found = session.execute(
        select(ProxySignatureFinding).where(
            ProxySignatureFinding.case_kind == case_kind, ProxySignatureFinding.case_id == case.id
        )
    ).scalar_one_or_none()
    if found is not None:  # confirmed once already (e.g. the supplementary revisit found it again)
        return found
    agent = session.get(Agent, case.agent_code) if case.agent_code else None
    rule_case = rule_case_for(agent, signed_by)
    if resign_order is None:
        resign_order = create_work_order(
            session, case=case, kind="resign", now=ctx.now, actor=ctx.actor, calendar=ctx.calendar,
            settings=ctx.settings, note="proxy signature confirmed: re-signing (补签)",
        )
        queue_message(session, notice(resign_order), kind="work_order", case_id=resign_order.id, now=ctx.now)
    month = f"{local_date(ctx.now):%Y-%m}"
    finding = ProxySignatureFinding(
        case_kind=case_kind,
        case_id=case.id,
        policy_no=getattr(case, "policy_no", None),
        agent_code=case.agent_code,
        signed_by=signed_by,
        rule_case=rule_case,
        month=month,
        confirmed_at=ctx.now,
        resign_order_id=resign_order.id,
        resign_due_at=resign_order.due_at,
        commission_held=False,  # derived as read: see commission_held()
    )
    session.add(finding)
    session.flush()
    for rule in ctx.settings.proxy_signature_penalties:
        if rule.case != rule_case:
            continue
        person = getattr(agent, ROLE_PERSON[rule.role]) if agent is not None else None
        if rule.role == "agent" and person is None:
            person = case.agent_code
        session.add(
            Penalty(
                finding_id=finding.id, month=month, rule_case=rule_case, role=rule.role, person_code=person,
                agent_code=case.agent_code, amount_cny=rule.amount_cny, created_at=ctx.now,
            )
        )
    session.flush()
    return finding


def release_commission_hold(session: Session, *, order: WorkOrder, now: datetime) -> None:
    """The re-signing order was accepted: documents re-signed, commission paid out again (补发)."""
    for finding in session.execute(
        select(ProxySignatureFinding).where(ProxySignatureFinding.resign_order_id == order.id)
    ).scalars():
        if finding.resigned_at is None:
            finding.resigned_at = now
            session.add(finding)
    session.flush()


def not_resigned_in_time(finding: ProxySignatureFinding, now: datetime) -> bool:
    """补签逾期 as at ``now``: the re-signing due time has passed and the documents are not re-signed (yet)."""
    return (
        finding.rule_case != "agent_departed"
        and (finding.resigned_at is None or as_utc(finding.resigned_at) > now)
        and finding.resign_due_at is not None
        and now > as_utc(finding.resign_due_at)
    )


def statement_due(finding: ProxySignatureFinding, now: datetime) -> bool:
    """The agent's written statement (书面说明) is due (the departed-agent case has no agent to ask)."""
    return not_resigned_in_time(finding, now)


def commission_held(finding: ProxySignatureFinding, now: datetime) -> bool:
    """暂扣佣金: withheld only when not re-signed in time, until re-signed — never during the window."""
    return not_resigned_in_time(finding, now)
