"""Shapes of SPEC §4.1: revisits and work orders as clients read them; masking by role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.clock import as_utc, end_of_day
from models import CallAttempt, CareTouch, RevisitCase, User, WorkOrder
from statemachines.engine import allowed_events

FULL_VIEW_ROLES = ("admin", "supervisor", "manager", "call_agent")

# Revisit events a person sends through ``POST /revisits/{id}/events/{event}``. Every other declared event
# follows from something else and is refused there: from a call attempt (classify_*, attempt_failed,
# book_appointment, close, require_supplementary — ``POST /revisits/{id}/attempts``), from an accepted
# work order (contact_fixed, explanation_recorded, remark_recorded) or from the sweeps (timed events).
MANUAL_REVISIT_EVENTS: tuple[str, ...] = (
    "follow_up_understood",
    "follow_up_not_understood",
    "confirm_misleading",
    "letter_or_onsite_success",
    "close_failed",
    "escalate_to_letter",
    "cancel",
)
# timed work-order events a person may still send (a supervisor lists an overdue order at once)
MANUAL_TIMED_WORK_ORDER_EVENTS: tuple[str, ...] = ("quality_list",)


def revisit_allowed_events(case: RevisitCase) -> list[str]:
    """The machine's events from the case's state that a client may send by hand."""
    return [e for e in allowed_events("revisit", case) if e in MANUAL_REVISIT_EVENTS]


def work_order_allowed_events(order: WorkOrder) -> list[str]:
    """The machine's events from the order's state, less the ones only the sweeps send."""
    from statemachines.registry import get_kind

    timed = get_kind("work_order").machine.timed_events
    return [
        e for e in allowed_events("work_order", order) if e not in timed or e in MANUAL_TIMED_WORK_ORDER_EVENTS
    ]


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "tzinfo"):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def mask_phone(phone: str | None) -> str | None:
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def work_order_view(order: WorkOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "case_id": order.case_id,
        "kind": order.kind,
        "branch": order.branch_code,
        "state": order.state,
        "issued_at": iso(order.issued_at),
        "due_at": iso(order.due_at),
        "second_communication": order.second_communication,
        "result": order.result,
        "explanation": order.explanation,
        "version": order.version,
        "allowed_events": work_order_allowed_events(order),
    }


def attempt_view(attempt: CallAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "at": iso(attempt.at),
        "agent": attempt.agent,
        "outcome": attempt.outcome,
        "answers": attempt.answers,
        "appointment_at": iso(attempt.appointment_at),
    }


def revisit_view(session: Session, case: RevisitCase, *, detail: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": case.id,
        "kind": case.kind,
        "policy_no": case.policy_no,
        "claim_no": case.claim_no or None,
        "branch": case.branch_code,
        "channel": case.channel,
        "state": case.state,
        "classification": case.classification,
        "sub_types": case.sub_types,
        "problem_category": case.problem_category,
        "verification_reason": case.verification_reason,
        "flags": case.flags,
        "failure_reasons": case.failure_reasons,
        "due_date": iso(case.due_date),
        "cooling_off_end": iso(case.cooling_off_end),
        "cooling_off_rule_version": case.cooling_off_rule_version,
        "next_deadline_at": iso(case.next_deadline_at),
        "next_attempt_at": iso(case.next_attempt_at),
        "appointment_at": iso(case.appointment_at),
        "surrender_as_cooling_off_until": iso(case.surrender_as_cooling_off_until),
        "supplementary_needed": case.supplementary_needed,
        "late": case.late,
        "priority": case.priority,
        "attempt_count": case.attempt_count,
        "version": case.version,
        "allowed_events": revisit_allowed_events(case),
    }
    if case.kind == "claim":
        body.update(claim_revisit_fields(session, case))
    if detail:
        attempts = session.execute(
            select(CallAttempt).where(CallAttempt.case_id == case.id).order_by(CallAttempt.at, CallAttempt.id)
        ).scalars()
        orders = session.execute(
            select(WorkOrder).where(WorkOrder.case_id == case.id).order_by(WorkOrder.id)
        ).scalars()
        body["attempts"] = [attempt_view(a) for a in attempts]
        body["work_orders"] = [work_order_view(o) for o in orders]
    else:
        body["attempts"] = []
        body["work_orders"] = []
    return body


def care_touch_view(touch: CareTouch) -> dict[str, Any]:
    return {
        "kind": touch.kind,
        "due_date": iso(touch.due_date),
        "due_at": iso(touch.due_at),
        "state": touch.state,
        "channel": touch.channel,
        "result": touch.result,
        "satisfaction": touch.satisfaction,
        "problem": touch.problem,
        "response_due_at": iso(touch.response_due_at),
        "solution_due_at": iso(touch.solution_due_at),
        "version": touch.version,
    }


def claim_revisit_fields(session: Session, case: RevisitCase) -> dict[str, Any]:
    """What a claim revisit adds to the view (SPEC §4.1): its last moment, care touches, problem clocks."""
    touches = session.execute(
        select(CareTouch).where(CareTouch.revisit_case_id == case.id).order_by(CareTouch.due_date, CareTouch.id)
    ).scalars()
    return {
        "revisit_due_by": iso(end_of_day(case.revisit_due_date)) if case.revisit_due_date else None,
        "owner": case.owner,
        "problem_response_due_at": iso(case.problem_response_due_at),
        "problem_solution_due_at": iso(case.problem_solution_due_at),
        "care_touches": [care_touch_view(t) for t in touches],
    }


def can_see_branch(user: User, branch: str | None) -> bool:
    return user.role != "branch_staff" or branch == user.branch_code
