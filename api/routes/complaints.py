"""Complaints (投诉, SPEC §2.12, §4): intake, read, list, send events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session

from api.complaint_views import complaint_allowed_events, complaint_view
from api.context import request_ctx
from api.deps import Offset, RowId, SessionDep, UserDep, require_role
from api.errors import Problem
from api.listing import manual_event, page, where_equal
from api.idempotency import idempotent
from api.routes.revisits import EventIn
from core import clock
from domain import complaints as service
from models import Complaint
from statemachines.complaint import OPEN_STATES

router = APIRouter(tags=["complaints"])

HANDLERS = ("complaint_handler", "supervisor", "manager")
READERS = (*HANDLERS, "auditor")


class ComplainantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class ComplaintIn(BaseModel):
    """SPEC §4.1: channel, complainant and contact, optional policy, content, category, urgency."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["hotline", "email", "counter", "online", "regulator"]
    complainant: ComplainantIn
    policy_no: str | None = Field(default=None, max_length=40)
    content: str = Field(min_length=1, max_length=10_000)
    category: str = Field(min_length=1, max_length=64)
    urgency: Literal["normal", "urgent"] = "normal"
    accused: str | None = Field(default=None, max_length=100, description="the person complained about (回避)")
    agent_code: str | None = Field(default=None, max_length=32)


def _complaint(session: Session, complaint_id: int) -> Complaint:
    c = session.get(Complaint, complaint_id, populate_existing=True)
    if c is None:
        raise Problem(404, "Not found", f"complaint {complaint_id} does not exist")
    return c


@router.post("/complaints", status_code=201)
def create_complaint(
    body: ComplaintIn,
    request: Request,
    session: SessionDep,
    user: UserDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Intake: the complaint handler who takes it in owns it (首问责任人) unless it is about them (回避); one
    recorded by a supervisor or manager waits unowned in the handlers' queue."""
    require_role(user, *HANDLERS)

    def run() -> dict[str, Any]:
        ctx = request_ctx(session, user)
        c = service.register_complaint(
            session, ctx=ctx, handler=user.name if user.role == "complaint_handler" else None, channel=body.channel,
            complainant_name=body.complainant.name, complainant_phone=body.complainant.phone,
            content=body.content, category=body.category, urgency=body.urgency, policy_no=body.policy_no,
            accused=body.accused, agent_code=body.agent_code,
        )
        return complaint_view(c, user=user, now=ctx.now)

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=201, run=run,
    )


@router.get("/complaints")
def list_complaints(
    session: SessionDep,
    user: UserDep,
    state: str | None = None,
    urgency: str | None = None,
    owner: str | None = None,
    source: str | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Filter by state, urgency, owner, source, overdue (a running clock past its due time); paginated."""
    require_role(user, *READERS)
    now = clock.now()
    stmt = select(Complaint)
    stmt = where_equal(stmt, {
        Complaint.state: state, Complaint.urgency: urgency, Complaint.owner: owner, Complaint.source: source,
    })
    if overdue is not None:
        late = Complaint.state.in_(OPEN_STATES) & Complaint.next_due_at.is_not(None) & (Complaint.next_due_at <= now)
        stmt = stmt.where(late if overdue else ~late)
    return page(session, stmt, order_by=[Complaint.id], limit=limit, offset=offset,
                view=lambda c: complaint_view(c, user=user, now=now))


@router.get("/complaints/{complaint_id}")
def get_complaint(complaint_id: RowId, session: SessionDep, user: UserDep) -> dict[str, Any]:
    require_role(user, *READERS)
    return complaint_view(_complaint(session, complaint_id), user=user, now=clock.now())


@router.post("/complaints/{complaint_id}/events/{event}")
def send_event(
    complaint_id: RowId,
    event: str,
    request: Request,
    session: SessionDep,
    user: UserDep,
    body: Annotated[EventIn, Body()],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Any declared manual event with its payload; ownership and 回避 are checked against the caller."""
    c = _complaint(session, complaint_id)
    manual_event("complaint", event, who_sends_timed="the complaint-sla-sweep", state=c.state,
                 allowed_events=complaint_allowed_events(c))
    require_role(user, *HANDLERS)
    payload = body.model_dump(exclude={"expected_version"})

    def run() -> dict[str, Any]:
        # checked here, not before: a replayed Idempotency-Key answers what the first call answered
        current = _complaint(session, complaint_id)
        allowed = complaint_allowed_events(current)
        if event not in allowed:
            raise Problem(
                409, "Event not allowed",
                f"{event!r} is not allowed in state {current.state!r}; allowed events: {', '.join(allowed) or 'none'}",
                "event-not-allowed", state=current.state, allowed_events=allowed,
            )
        ctx = request_ctx(session, user)
        try:
            updated = service.send_complaint_event(
                session, complaint_id=complaint_id, event=event, payload=payload,
                expected_version=body.expected_version, handler=user.name, role=user.role, ctx=ctx,
            )
        except service.ComplaintForbidden as exc:
            raise Problem(403, "Forbidden", exc.reason) from None
        return complaint_view(updated, user=user, now=ctx.now)

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=200, run=run,
    )
