"""Branch work orders (工单, SPEC §2.8): creation with working-day due times, and the branch's order of work."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import local_date
from core.settings import Settings
from models import AuditEntry, WorkOrder
from statemachines.engine import Message

KINDS = ("failed_followup", "verification", "problem", "substandard_remark", "resign")
OPEN_STATES = ("open", "in_progress", "returned", "overdue", "explained", "quality_listed")
# 处理顺序 (SPEC §2.8): verification first (and the 1-working-day failed-revisit orders with it)
FIRST_GROUP = ("verification", "failed_followup")


def due_at(kind: str, issued_at: datetime, calendar: WorkdayCalendar, settings: Settings) -> datetime:
    """The end of the N-th working day after the issuing day, that day not counted (SPEC §2.4)."""
    return calendar.due_at(local_date(issued_at), settings.work_order_due_workdays[kind])


def create_work_order(
    session: Session,
    *,
    case: Any,
    kind: str,
    now: datetime,
    actor: str,
    calendar: WorkdayCalendar,
    settings: Settings,
    second_communication: bool = False,
    note: str | None = None,
) -> WorkOrder:
    """Issue an order to the case's branch; flushed, not committed (it rides the caller's transition)."""
    if kind not in KINDS:
        raise ValueError(f"unknown work order kind {kind!r}")
    order = WorkOrder(
        case_id=case.id,
        kind=kind,
        branch_code=case.branch_code,
        state="open",
        issued_at=now,
        due_at=due_at(kind, now, calendar, settings),
        second_communication=second_communication,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    session.execute(
        insert(AuditEntry).values(
            case_kind="work_order",
            case_id=order.id,
            version=1,
            event="created",
            source="",
            target="open",
            actor=actor,
            at=now,
            payload={"kind": kind, "revisit_id": case.id, "note": note, "due_at": order.due_at.isoformat()},
        )
    )
    return order


def notice(order: WorkOrder) -> Message:
    """The branch's notice of a new order (outbox, internal channel)."""
    return Message(
        channel="internal",
        template="work_order_notice",
        recipient=f"branch:{order.branch_code}",
        context={"order_id": order.id, "kind": order.kind, "case_id": order.case_id, "due_at": order.due_at},
        dedupe_key=f"work_order:{order.id}:created",
    )


def processing_group(kind: str, issued: date, today: date) -> int:
    """0 verification; 1 this and last month's problem/sub-standard; 2 the month before; 3 older."""
    if kind in FIRST_GROUP:
        return 0
    months_ago = (today.year - issued.year) * 12 + (today.month - issued.month)
    if months_ago <= 1:
        return 1
    if months_ago == 2:
        return 2
    return 3
