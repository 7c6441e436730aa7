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
from statemachines.engine import Message, enqueue

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


def issue_bulk(
    session: Session,
    *,
    cases: list[tuple[int, str]],
    kind: str,
    now: datetime,
    actor: str,
    calendar: WorkdayCalendar,
    settings: Settings,
    note: str | None = None,
    flow_run_id: str | None = None,
) -> list[tuple[int, int, str]]:
    """Issue one order of ``kind`` to each (case id, branch) — the sweeps' set-based twin of
    ``create_work_order``: one multi-row INSERT … RETURNING, one audit INSERT, the branch notices in the outbox.
    Flushes, never commits (it rides the caller's batch). Returns (order id, case id, branch) triples."""
    if kind not in KINDS:
        raise ValueError(f"unknown work order kind {kind!r}")
    if not cases:
        return []
    due = due_at(kind, now, calendar, settings)
    rows = [
        {
            "case_id": case_id, "kind": kind, "branch_code": branch, "state": "open", "issued_at": now,
            "due_at": due, "second_communication": False, "result": {}, "version": 1,
            "created_at": now, "updated_at": now,
        }
        for case_id, branch in cases
    ]
    issued = [
        (int(order_id), int(case_id), str(branch))
        for order_id, case_id, branch in session.execute(
            insert(WorkOrder).returning(WorkOrder.id, WorkOrder.case_id, WorkOrder.branch_code), rows
        )
    ]
    session.execute(
        insert(AuditEntry),
        [
            {
                "case_kind": "work_order", "case_id": order_id, "version": 1, "event": "created", "source": "",
                "target": "open", "actor": actor, "at": now, "flow_run_id": flow_run_id,
                "payload": {"kind": kind, "revisit_id": case_id, "note": note, "due_at": due.isoformat()},
            }
            for order_id, case_id, _ in issued
        ],
    )
    enqueue(
        session,
        [
            (
                Message(
                    channel="internal",
                    template="work_order_notice",
                    recipient=f"branch:{branch}",
                    context={"order_id": order_id, "kind": kind, "case_id": case_id, "due_at": due},
                    dedupe_key=f"work_order:{order_id}:created",
                ),
                "work_order",
                order_id,
            )
            for order_id, case_id, branch in issued
        ],
        now=now,
    )
    return issued


def withdraw_orders(
    session: Session, *, case_ids: list[int], kinds: tuple[str, ...], reason: str, now: datetime, actor: str,
    flow_run_id: str | None = None,
) -> int:
    """Withdraw the cases' open orders of ``kinds`` (one audit row each): a rung the case has left behind
    must not go overdue nor onto the quality list."""
    from sqlalchemy import select

    from statemachines.engine import apply_bulk

    if not case_ids:
        return 0
    ids = list(session.execute(
        select(WorkOrder.id).where(WorkOrder.case_id.in_(case_ids), WorkOrder.kind.in_(kinds),
                                   WorkOrder.state.in_(OPEN_STATES))
    ).scalars())
    done = apply_bulk(session, kind="work_order", event="withdraw", case_ids=ids, actor=actor, now=now,
                      payload={"reason": reason}, set_values={"closed_at": now}, flow_run_id=flow_run_id)
    return len(done)

