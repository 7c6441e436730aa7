"""``GET /queue/next``: the next piece of work for whoever asks (SPEC §4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import SessionDep, UserDep, actor
from api.errors import Problem
from api.context import request_ctx
from api.complaint_views import complaint_view
from api.views import revisit_view, work_order_view
from domain import queue

router = APIRouter(tags=["queue"])


@router.get("/queue/next", response_model=None)
def next_item(session: SessionDep, user: UserDep) -> dict[str, Any] | Response:
    """Call agents get due calls and appointments; branch staff their branch's work orders (2.8 order);
    complaint handlers their next complaint (urgent first, then the nearest due time)."""
    ctx = request_ctx(session, user)
    if user.role in ("call_agent", "supervisor"):
        case = queue.next_call(session, agent=actor(user), ctx=ctx)
        if case is None:
            return Response(status_code=204)
        return {"kind": "revisit", "item": revisit_view(session, case)}
    if user.role in ("branch_staff", "manager"):
        order = queue.next_work_order(session, branch=user.branch_code, ctx=ctx)
        if order is None:
            return Response(status_code=204)
        return {"kind": "work_order", "item": work_order_view(order)}
    if user.role == "complaint_handler":
        complaint = queue.next_complaint(session, handler=user.name, ctx=ctx)
        if complaint is None:
            return Response(status_code=204)
        return {"kind": "complaint", "item": complaint_view(complaint, user=user, now=ctx.now)}
    raise Problem(403, "Forbidden", f"role {user.role} has no work queue here")
