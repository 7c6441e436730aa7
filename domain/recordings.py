"""Access to call recordings (录音调阅, SPEC §2.13): who may ask, who approves, every step logged.

A supervisor-level person asks, with a reason, to hear the recordings of one case; the customer-service
head approves or rejects (never their own request); only the requester hears them, once approved, and
every hearing is an audit row (the ``access`` event), so the trail answers "who heard what, when, why".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from domain.revisits import Ctx
from models import AuditEntry, RecordingAccessRequest
from statemachines.engine import CaseNotFound, Rejected, apply_event
from statemachines.registry import get_kind

RECORDED_KINDS = ("revisit", "complaint")  # the cases whose calls are recorded


class NotPermitted(Exception):
    """The user's role or relation to the request does not allow the step (→ 403)."""


def request_access(
    session: Session, *, case_kind: str, case_id: int, reason: str, role: str, ctx: Ctx
) -> RecordingAccessRequest:
    if role not in ctx.settings.recording_request_roles:
        raise NotPermitted("recordings are requested by supervisor-level staff or above (SPEC §2.13)")
    if case_kind not in RECORDED_KINDS:
        raise Rejected(f"'case_kind' must be one of {', '.join(RECORDED_KINDS)}")
    if not reason or not reason.strip():
        raise Rejected("a request needs a 'reason'")
    if session.get(get_kind(case_kind).model, case_id) is None:
        raise CaseNotFound(case_kind, case_id)
    try:
        req = RecordingAccessRequest(
            case_kind=case_kind, case_id=case_id, reason=reason.strip(), requested_by=ctx.actor,
            requested_at=ctx.now, created_at=ctx.now, updated_at=ctx.now,
        )
        session.add(req)
        session.flush()
        session.execute(insert(AuditEntry).values(
            case_kind="recording_access", case_id=req.id, version=1, event="requested", source="",
            target="requested", actor=ctx.actor, at=ctx.now,
            payload={"case_kind": case_kind, "case_id": case_id, "reason": req.reason},
        ))
        session.commit()
        return req
    except BaseException:
        session.rollback()
        raise


def send_request_event(
    session: Session, *, request_id: int, event: str, payload: Mapping[str, Any], role: str,
    expected_version: int | None, ctx: Ctx,
) -> RecordingAccessRequest:
    req = session.get(RecordingAccessRequest, request_id, populate_existing=True)
    if req is None:
        raise CaseNotFound("recording_access", request_id)
    if event in ("approve", "reject"):
        if role not in ctx.settings.recording_approver_roles:
            raise NotPermitted("only the customer-service head approves or rejects access to recordings")
        if req.requested_by == ctx.actor:
            raise NotPermitted("nobody approves their own request")
        changes: dict[str, Any] = {"decided_by": ctx.actor, "decided_at": ctx.now,
                                   "decision_note": (payload.get("note") or payload.get("reason"))}
    elif event == "close":
        if req.requested_by != ctx.actor and role not in ctx.settings.recording_approver_roles:
            raise NotPermitted("the requester or the customer-service head closes a request")
        changes = {}
    elif event == "access":
        if req.requested_by != ctx.actor:
            raise NotPermitted("only the person whose request was approved hears the recording")
        changes = {"access_count": req.access_count + 1, "last_accessed_at": ctx.now}
    else:
        changes = {}
    session.rollback()  # end the read before the engine locks and writes
    result = apply_event(
        session, kind="recording_access", case_id=request_id, event=event, actor=ctx.actor, now=ctx.now,
        expected_version=expected_version, payload=payload, changes=changes, flow_run_id=ctx.flow_run_id,
    )
    return result.case
