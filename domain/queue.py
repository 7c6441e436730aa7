"""The next case for the caller (SPEC §4 ``GET /queue/next``)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case as sql_case
from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from core.clock import local_date, start_of_day
from domain import revisit_rules as rules
from domain.revisits import Ctx
from domain.work_orders import FIRST_GROUP, OPEN_STATES
from models import Complaint, RevisitCase, WorkOrder
from statemachines.complaint import OPEN_STATES as COMPLAINT_OPEN_STATES


# what HQ calls: the phone rungs, and the follow-up call after the branch's explanation of a problem case
CALL_QUEUE_STATES = (*rules.PHONE_STATES, "follow_up_call")


def next_call(session: Session, *, agent: str, ctx: Ctx) -> RevisitCase | None:
    """Due calls and appointments, cooling-off nearest first; held for the agent while they call."""
    if not rules.is_callable(ctx.now, ctx.settings):
        return None  # no calls outside callable hours (SPEC §2.7)
    today = local_date(ctx.now)
    hold = ctx.now + timedelta(minutes=ctx.settings.queue_claim_minutes)
    far = date(9999, 12, 31)
    for _ in range(5):  # another agent may take the same case between our read and our claim
        stmt = (
            select(RevisitCase.id)
            .where(
                RevisitCase.state.in_(CALL_QUEUE_STATES),
                RevisitCase.due_date <= today,
                or_(RevisitCase.next_attempt_at.is_(None), RevisitCase.next_attempt_at <= ctx.now),
                or_(
                    RevisitCase.claimed_until.is_(None),
                    RevisitCase.claimed_until <= ctx.now,
                    RevisitCase.claimed_by == agent,
                ),
                or_(RevisitCase.attempts_day.is_(None), RevisitCase.attempts_day < today,
                    RevisitCase.attempts_today < ctx.settings.max_attempts_per_day),
            )
            .order_by(
                sql_case((RevisitCase.state == "appointment", 0), else_=1),
                RevisitCase.priority.desc(),
                # a claim revisit has no cooling-off: its own last day (5 working days after closing) ranks it
                func.coalesce(RevisitCase.cooling_off_end, RevisitCase.revisit_due_date, far),
                RevisitCase.due_date,
                RevisitCase.id,
            )
            .limit(1)
        )
        case_id = session.execute(stmt).scalar()
        if case_id is None:
            return None
        claimed = session.execute(
            update(RevisitCase)
            .where(
                RevisitCase.id == case_id,
                or_(RevisitCase.claimed_until.is_(None), RevisitCase.claimed_until <= ctx.now,
                    RevisitCase.claimed_by == agent),
            )
            .values(claimed_by=agent, claimed_until=hold)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if claimed:
            return session.get(RevisitCase, case_id, populate_existing=True)
    return None


def next_work_order(session: Session, *, branch: str | None, ctx: Ctx) -> WorkOrder | None:
    """处理顺序 (SPEC §2.8): verification first, then last month's problem/sub-standard, then older."""
    today = local_date(ctx.now)
    stmt = select(WorkOrder).where(WorkOrder.state.in_(OPEN_STATES))
    if branch:
        stmt = stmt.where(WorkOrder.branch_code == branch)
    first_of_month = today.replace(day=1)
    last_month = (first_of_month - timedelta(days=1)).replace(day=1)
    month_before = (last_month - timedelta(days=1)).replace(day=1)
    group = sql_case(
        (WorkOrder.kind.in_(FIRST_GROUP), 0),
        (WorkOrder.issued_at >= start_of_day(last_month), 1),
        (WorkOrder.issued_at >= start_of_day(month_before), 2),
        else_=3,
    )
    return session.execute(stmt.order_by(group, WorkOrder.due_at, WorkOrder.id).limit(1)).scalars().first()


def next_complaint(session: Session, *, handler: str, ctx: Ctx) -> Complaint | None:
    """A complaint handler's next complaint: urgent first (emergency path), then the nearest due time.

    Their own open complaints, a handover offered to them, or one nobody owns yet — never one about them
    (回避). Reading it takes nothing: the handler takes it with the ``take`` event (or by acting on it).
    """
    stmt = (
        select(Complaint)
        .where(
            Complaint.state.in_(COMPLAINT_OPEN_STATES),
            or_(Complaint.owner == handler, Complaint.owner.is_(None), Complaint.pending_owner == handler),
            or_(Complaint.accused.is_(None), Complaint.accused != handler),
            or_(Complaint.agent_code.is_(None), Complaint.agent_code != handler),
        )
        .order_by(
            sql_case((Complaint.urgency == "urgent", 0), else_=1),
            sql_case((Complaint.next_due_at.is_(None), 1), else_=0),  # answered ones, no clock running: last
            Complaint.next_due_at,
            Complaint.id,
        )
        .limit(1)
    )
    found = session.execute(stmt).scalars().first()
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return found
