"""Branch work orders (SPEC §2.8, §4): list, read, send events; branch staff see their branch only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import MAX_ROW_ID, Offset, RowId, SessionDep, UserDep, require_role
from api.errors import Problem
from api.listing import manual_event, page, where_equal
from api.idempotency import idempotent
from api.context import request_ctx
from api.routes.revisits import EventIn
from api.views import MANUAL_TIMED_WORK_ORDER_EVENTS, can_see_branch, work_order_view
from domain import revisits as service
from models import WorkOrder

router = APIRouter(tags=["work orders"])

BRANCH = ("branch_staff", "supervisor", "manager")
HQ = ("call_agent", "supervisor", "manager")
EVENT_ROLES: dict[str, tuple[str, ...]] = {
    "start": BRANCH,
    "submit": BRANCH,
    "resume": BRANCH,
    "explain": BRANCH,
    "accept": HQ,
    "return_to_branch": HQ,
    "quality_list": ("supervisor", "manager"),
    "cancel": ("supervisor", "manager"),
}


def _order(session: SessionDep, user: UserDep, order_id: RowId) -> WorkOrder:
    order = session.get(WorkOrder, order_id)
    if order is None:
        raise Problem(404, "Not found", f"work order {order_id} does not exist")
    if not can_see_branch(user, order.branch_code):
        raise Problem(403, "Forbidden", f"work order {order_id} belongs to another branch")
    return order


@router.get("/work-orders")
def list_work_orders(
    session: SessionDep,
    user: UserDep,
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    kind: str | None = None,
    state: str | None = None,
    branch: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    if user.role == "branch_staff":
        if branch and branch != user.branch_code:
            raise Problem(403, "Forbidden", "branch staff see only their own branch")
        branch = user.branch_code
    stmt = where_equal(select(WorkOrder), {
        WorkOrder.case_id: case_id, WorkOrder.kind: kind, WorkOrder.state: state, WorkOrder.branch_code: branch
    })
    return page(session, stmt, order_by=[WorkOrder.due_at, WorkOrder.id], limit=limit, offset=offset,
                view=work_order_view)


@router.get("/work-orders/{order_id}")
def get_work_order(order_id: RowId, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return work_order_view(_order(session, user, order_id))


@router.post("/work-orders/{order_id}/events/{event}")
def send_event(
    order_id: RowId,
    event: str,
    request: Request,
    session: SessionDep,
    user: UserDep,
    body: Annotated[EventIn, Body()],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    _order(session, user, order_id)
    manual_event("work_order", event, who_sends_timed="the revisit-sweep",
                 allowed_timed=MANUAL_TIMED_WORK_ORDER_EVENTS)
    require_role(user, *EVENT_ROLES.get(event, BRANCH))
    payload = body.model_dump(exclude={"expected_version"})

    def run() -> dict[str, Any]:
        order = service.send_work_order_event(
            session, order_id=order_id, event=event, payload=payload, expected_version=body.expected_version,
            ctx=request_ctx(session, user),
        )
        return work_order_view(order)

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=200, run=run,
    )
