"""Requests to hear call recordings (SPEC §2.13): ask, decide, hear — every step in the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.context import request_ctx
from api.deps import SessionDep, UserDep
from api.errors import Problem
from api.listing import manual_event
from api.idempotency import idempotent
from api.routes.revisits import EventIn
from domain import recordings as service
from models import RecordingAccessRequest
from statemachines.engine import allowed_events

router = APIRouter(tags=["recordings"])
READERS = ("supervisor", "manager", "auditor", "admin")


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_kind: str = Field(max_length=32)
    case_id: int
    reason: str = Field(min_length=1, max_length=2000)


def view(req: RecordingAccessRequest) -> dict[str, Any]:
    iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
    return {
        "id": req.id, "case_kind": req.case_kind, "case_id": req.case_id, "reason": req.reason, "state": req.state,
        "requested_by": req.requested_by, "requested_at": iso(req.requested_at), "decided_by": req.decided_by,
        "decided_at": iso(req.decided_at), "decision_note": req.decision_note, "access_count": req.access_count,
        "last_accessed_at": iso(req.last_accessed_at), "version": req.version,
        "allowed_events": allowed_events("recording_access", req),
    }


def _forbidden(exc: service.NotPermitted) -> Problem:
    return Problem(403, "Forbidden", str(exc))


@router.post("/recording-access", status_code=201)
def request_access(
    request: Request, session: SessionDep, user: UserDep, body: Annotated[RequestIn, Body()],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    def run() -> dict[str, Any]:
        try:
            req = service.request_access(session, case_kind=body.case_kind, case_id=body.case_id, reason=body.reason,
                                         role=user.role, ctx=request_ctx(session, user))
        except service.NotPermitted as exc:
            raise _forbidden(exc) from None
        return view(req)

    return idempotent(session, user=user, key=idempotency_key, method="POST", path=request.url.path,
                      body=body.model_dump(mode="json"), status_code=201, run=run)


@router.get("/recording-access/{request_id}")
def get_request(request_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    if user.role not in READERS:
        raise Problem(403, "Forbidden", "recording requests are for supervisor-level staff, managers and auditors")
    req = session.get(RecordingAccessRequest, request_id)
    if req is None:
        raise Problem(404, "Not found", f"recording request {request_id} does not exist")
    return view(req)


@router.post("/recording-access/{request_id}/events/{event}")
def send_event(
    request_id: int, event: str, request: Request, session: SessionDep, user: UserDep,
    body: Annotated[EventIn, Body()], idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    manual_event("recording_access", event, who_sends_timed="a flow")
    if session.get(RecordingAccessRequest, request_id) is None:
        raise Problem(404, "Not found", f"recording request {request_id} does not exist")
    payload = body.model_dump(exclude={"expected_version"})

    def run() -> dict[str, Any]:
        try:
            req = service.send_request_event(session, request_id=request_id, event=event, payload=payload,
                                             role=user.role, expected_version=body.expected_version,
                                             ctx=request_ctx(session, user))
        except service.NotPermitted as exc:
            raise _forbidden(exc) from None
        return view(req)

    return idempotent(session, user=user, key=idempotency_key, method="POST", path=request.url.path,
                      body=body.model_dump(mode="json"), status_code=200, run=run)
