"""Revisits: read, record call attempts, send declared events (SPEC §4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlmodel import Session

from api.context import request_ctx
from api.deps import Offset, RowId, SessionDep, UserDep, require_role
from api.errors import Problem
from api.listing import manual_event, page, where_equal
from api.idempotency import idempotent
from api.views import MANUAL_REVISIT_EVENTS, can_see_branch, revisit_allowed_events, revisit_view
from core import clock
from domain import revisits as service
from domain.classification import OUTCOMES
from models import RevisitCase, WorkOrder

router = APIRouter(tags=["revisits"])

CALLERS = ("call_agent", "supervisor", "manager")
# who may send which revisit event by hand (the timed ones belong to the sweeps)
EVENT_ROLES: dict[str, tuple[str, ...]] = {
    "follow_up_understood": CALLERS,
    "follow_up_not_understood": CALLERS,
    "confirm_misleading": ("supervisor", "manager", "call_agent"),
    "letter_or_onsite_success": ("branch_staff", "supervisor", "manager"),
    "close_failed": ("branch_staff", "supervisor", "manager"),
    "escalate_to_letter": ("supervisor", "manager"),
    "cancel": ("supervisor", "manager"),
}


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description=f"one of: {', '.join(OUTCOMES)}")
    # text answers; a claim revisit's service_satisfaction may be sent as a number 1–5 (SPEC §2.11)
    answers: dict[str, str | int] = Field(default_factory=dict)
    details: dict[str, Any] | None = None
    appointment_at: datetime | None = Field(
        default=None, description="ISO-8601 with offset; a time without one is Asia/Shanghai (as everywhere else)"
    )
    expected_version: int

    @field_validator("appointment_at")
    @classmethod
    def _local_if_naive(cls, value: datetime | None) -> datetime | None:
        # a call agent's "2026-10-12T15:00" means 15:00 in Shanghai, never 15:00 UTC (23:00 there)
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=clock.tz())
        return value


# names the state-machine library takes for itself when the payload is passed to ``send(event, **payload)``:
# some crash it (a 500), the others are silently dropped before the validators see them
RESERVED_PAYLOAD_KEYS = frozenset(
    {"event", "machine", "delay", "send_id", "internal", "event_data", "model", "transition", "state", "source",
     "target"}
)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    expected_version: int

    @model_validator(mode="after")
    def _no_reserved_keys(self) -> EventIn:
        reserved = sorted(RESERVED_PAYLOAD_KEYS & set(self.model_extra or {}))
        if reserved:
            raise ValueError(f"reserved field name(s) in the payload: {', '.join(reserved)}")
        return self




def _fresh(session: Session, case_id: int) -> RevisitCase:
    case = session.get(RevisitCase, case_id, populate_existing=True)
    if case is None:
        raise Problem(404, "Not found", f"revisit {case_id} does not exist")
    return case


def _case(session: SessionDep, user: UserDep, case_id: RowId) -> RevisitCase:
    case = session.get(RevisitCase, case_id)
    if case is None:
        raise Problem(404, "Not found", f"revisit {case_id} does not exist")
    if not can_see_branch(user, case.branch_code):
        raise Problem(403, "Forbidden", f"revisit {case_id} belongs to another branch")
    return case


@router.get("/revisits")
def list_revisits(
    session: SessionDep,
    user: UserDep,
    policy_no: str | None = None,
    claim_no: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    classification: str | None = None,
    branch: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    due_before: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Filter by state, class, branch, channel, overdue, due before; paginated."""
    stmt = select(RevisitCase)
    if user.role == "call_agent":
        # a call agent never sees a case before it is due (SPEC §4): not scheduled, and its due date has come
        today = clock.local_date(clock.now())
        stmt = stmt.where(RevisitCase.state != "scheduled", RevisitCase.due_date <= today)
    if user.role == "branch_staff":
        if branch and branch != user.branch_code:
            raise Problem(403, "Forbidden", "branch staff see only their own branch")
        branch = user.branch_code
    filters = {
        RevisitCase.policy_no: policy_no,
        RevisitCase.claim_no: claim_no,
        RevisitCase.kind: kind,
        RevisitCase.state: state,
        RevisitCase.classification: classification,
        RevisitCase.branch_code: branch,
        RevisitCase.channel: channel,
    }
    stmt = where_equal(stmt, filters)
    if due_before is not None:
        stmt = stmt.where(RevisitCase.due_date < due_before)
    if overdue is not None:
        late_orders = select(WorkOrder.case_id).where(WorkOrder.state.in_(("overdue", "explained", "quality_listed")))
        cond = RevisitCase.id.in_(late_orders) | RevisitCase.late.is_(True)
        stmt = stmt.where(cond if overdue else ~cond)
    return page(session, stmt, order_by=[RevisitCase.id], limit=limit, offset=offset,
                view=lambda c: revisit_view(session, c, detail=False))


@router.get("/revisits/{case_id}")
def get_revisit(case_id: RowId, session: SessionDep, user: UserDep) -> dict[str, Any]:
    case = _case(session, user, case_id)
    if user.role == "call_agent" and (case.state == "scheduled" or case.due_date > clock.local_date(clock.now())):
        raise Problem(404, "Not found", f"revisit {case_id} is not due yet")  # an agent never sees it early
    return revisit_view(session, case)


@router.post("/revisits/{case_id}/attempts", status_code=201)
def record_attempt(
    case_id: RowId,
    body: AttemptIn,
    request: Request,
    session: SessionDep,
    user: UserDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Record a call attempt: outcome, answers, optional appointment time."""
    require_role(user, *CALLERS)
    _case(session, user, case_id)

    def run() -> dict[str, Any]:
        # checked here, not before: a replayed Idempotency-Key answers what the first call answered
        case = _fresh(session, case_id)
        if case.state not in service.ATTEMPT_STATES:
            allowed = revisit_allowed_events(case)
            raise Problem(
                409, "Event not allowed",
                f"no call attempt can be recorded in state {case.state!r}; allowed events: "
                f"{', '.join(allowed) or 'none'}",
                "event-not-allowed", state=case.state, allowed_events=allowed,
            )
        ctx = request_ctx(session, user)
        case = service.record_attempt(
            session,
            case_id=case_id,
            outcome=body.outcome,
            answers=body.answers,
            details=body.details,
            appointment_at=body.appointment_at,
            expected_version=body.expected_version,
            ctx=ctx,
        )
        return revisit_view(session, case)

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=201, run=run,
    )


@router.post("/revisits/{case_id}/events/{event}")
def send_event(
    case_id: RowId,
    event: str,
    request: Request,
    session: SessionDep,
    user: UserDep,
    body: Annotated[EventIn, Body()],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Any other declared event with its payload (follow-up results, letter/on-site results, …)."""
    case = _case(session, user, case_id)
    manual_event("revisit", event, who_sends_timed="the revisit-sweep / callback-dispatch", state=case.state,
                 allowed_events=revisit_allowed_events(case))
    if event not in MANUAL_REVISIT_EVENTS:
        allowed = revisit_allowed_events(case)
        raise Problem(
            409, "Event not allowed",
            f"{event!r} is not sent by hand: it follows from a call attempt (POST /revisits/{case_id}/attempts) "
            f"or from an accepted work order; allowed events: {', '.join(allowed) or 'none'}",
            "event-not-allowed", state=case.state, allowed_events=allowed,
        )
    roles = EVENT_ROLES.get(event, CALLERS + ("branch_staff",))
    require_role(user, *roles)
    payload = body.model_dump(exclude={"expected_version"})

    def run() -> dict[str, Any]:
        # checked here, not before: a replayed Idempotency-Key answers what the first call answered
        current = _fresh(session, case_id)
        allowed = revisit_allowed_events(current)
        if event not in allowed:
            raise Problem(
                409, "Event not allowed",
                f"{event!r} is not allowed in state {current.state!r}; allowed events: {', '.join(allowed) or 'none'}",
                "event-not-allowed", state=current.state, allowed_events=allowed,
            )
        updated = service.send_event(
            session, case_id=case_id, event=event, payload=payload, expected_version=body.expected_version,
            ctx=request_ctx(session, user),
        )
        return revisit_view(session, updated)

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=200, run=run,
    )
