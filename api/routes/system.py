"""Health, machine descriptions and the audit trail of any case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select, text

from api.deps import RowId, SessionDep, UserDep, require_role
from api.errors import Problem
from api.routes.complaints import READERS as COMPLAINT_READERS
from core.clock import as_utc, local_date, now
from models import AuditEntry, RevisitCase
from statemachines.base import describe
from statemachines.registry import kinds, machines

router = APIRouter(tags=["system"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, Any]:
    """Liveness and database reachability."""
    try:
        session.execute(text("select 1"))
    except Exception as exc:  # the point of this endpoint is to say so, not to fail
        raise Problem(503, "Unavailable", f"database unreachable: {type(exc).__name__}") from None
    return {"status": "ok", "database": session.get_bind().dialect.name}


@router.get("/statemachines")
def list_machines() -> dict[str, Any]:
    return {"items": sorted(machines())}


@router.get("/statemachines/{name}")
def machine(name: str) -> dict[str, Any]:
    """States, events and a mermaid diagram generated from the machine class."""
    found = machines().get(name)
    if found is None:
        raise Problem(404, "Not found", f"no state machine {name!r}; machines: {', '.join(sorted(machines()))}")
    return describe(found)


def _scope(user: Any, kind: str, case: Any) -> None:
    """Branch staff see their own branch only; a call agent no revisit before it is due."""
    branch = getattr(case, "branch_code", None)
    if user.role == "branch_staff" and branch is not None and branch != user.branch_code:
        raise Problem(403, "Forbidden", f"{kind} {case.id} belongs to another branch")
    if user.role == "call_agent" and kind == "revisit" and (
        case.state == "scheduled" or case.due_date > local_date(now())
    ):
        # SPEC §4: a call agent never sees a case before it is due — its history included (same 404 as GET)
        raise Problem(404, "Not found", f"revisit {case.id} is not due yet")


@router.get("/cases/{kind}/{case_id}/history")
def history(kind: str, case_id: RowId, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """The append-only audit trail of one case, oldest first."""
    known = kinds()
    if kind not in known:
        raise Problem(404, "Not found", f"no case kind {kind!r}; kinds: {', '.join(sorted(known))}")
    model = known[kind].model
    case = session.get(model, case_id)
    if case is None:
        raise Problem(404, "Not found", f"{kind} {case_id} does not exist")
    if kind == "complaint":
        # complaint payloads name complainants and their grievances: the complaint desk's readers only
        require_role(user, *COMPLAINT_READERS)
    elif kind == "recording_access":
        # who asked to hear which recording, and why: supervisor level and the auditors (SPEC §2.13)
        require_role(user, "supervisor", "manager", "auditor", "admin")
    elif kind == "care_touch":
        # a care touch belongs to its claim revisit: the revisit's scoping applies
        _scope(user, "revisit", session.get(RevisitCase, case.revisit_case_id))
    else:
        _scope(user, kind, case)
    rows = session.execute(
        select(AuditEntry)
        .where(AuditEntry.case_kind == kind, AuditEntry.case_id == case_id)
        .order_by(AuditEntry.version, AuditEntry.id)
    ).scalars()
    return {
        "items": [
            {
                "event": r.event,
                "source": r.source,
                "target": r.target,
                "actor": r.actor,
                "at": as_utc(r.at).isoformat(),
                "payload": r.payload,
                "version": r.version,
                "flow_run_id": r.flow_run_id,
            }
            for r in rows
        ]
    }
