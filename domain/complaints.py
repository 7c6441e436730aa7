"""Complaint services (投诉, SPEC §2.12): intake, ownership (首问责任制, 回避), lifecycle events, clocks.

Every function takes the session and a ``Ctx`` (now, actor, settings, calendar); ``open_complaint`` only
flushes (it rides the caller's transaction: the revisit that confirmed a misleading sale, a claim problem),
the others commit once or change nothing. The clocks themselves are in ``domain.complaint_clocks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlmodel import Session

from domain import complaint_clocks as clocks
from domain.claims import post_claim_problem_closed
from models import AuditEntry, Complaint
from statemachines.complaint import conflicted, conflicted_with, intake_problems
from statemachines.engine import CaseNotFound, Message, Rejected, StaleVersion, apply_event, queue_message

if TYPE_CHECKING:
    from domain.revisits import Ctx

SUPERVISOR = "supervisor:hq"
MANAGER = "manager:hq"
APPROVER_ROLES = ("supervisor", "manager", "admin")
# events about who owns the complaint; every other manual event is "handling" it
OWNERSHIP_EVENTS = ("take", "hand_over", "accept_handover", "decline_handover")
# the escalation of a clock that ran out goes to: (the reply limit is regulatory: the manager)
ESCALATE_TO = {"ack": SUPERVISOR, "feedback": SUPERVISOR, "reply": MANAGER}


class ComplaintForbidden(Exception):
    """The caller may not do this to this complaint (not its owner, 回避, approval role); nothing changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def complainant_recipient(c: Complaint) -> str | None:
    if c.complainant_phone:
        return f"phone:{c.complainant_phone}"
    if c.policy_no:
        return f"policy:{c.policy_no}"
    return None


def owner_recipient(c: Complaint) -> str:
    return f"user:{c.owner}" if c.owner else SUPERVISOR


def escalation_message(c: Any, *, clock: str, due: datetime | None, reason: str, recipient: str, key: str) -> Message:
    return Message(
        channel="internal",
        template="complaint_escalation",
        recipient=recipient,
        context={"complaint_id": c.id, "clock": clock, "due_at": due, "owner": c.owner, "reason": reason},
        dedupe_key=key,
    )


def rearm(c: Complaint, ctx: Ctx) -> None:
    """Recompute the sweep's next_deadline_at and the earliest due time after the clocks changed."""
    c.next_deadline_at, c.next_due_at = clocks.next_marks(c, ctx.settings.complaint_warning_fractions)


# --- intake -------------------------------------------------------------------------------------------------


def open_complaint(
    session: Session,
    *,
    ctx: Ctx,
    source: str,
    channel: str,
    complainant_name: str,
    complainant_phone: str | None = None,
    content: str,
    category: str,
    urgency: str = "normal",
    policy_no: str | None = None,
    revisit_case_id: int | None = None,
    agent_code: str | None = None,
    claim_no: str | None = None,
    accused: str | None = None,
    owner: str | None = None,
) -> Complaint:
    """Record a complaint with its clocks, its creation audit row and its messages; flushed, not committed.

    ``source``: customer | misleading_sale (a revisit confirmed it) | post_claim (24 h response / 48 h
    solution, settings.claim_problem_*). The complainant is told the process and the expected reply time
    (complaint_ack); an urgent complaint notifies the supervisor at once (emergency path). ``owner`` is the
    person who took it in (首问责任人) — dropped when it is the person complained about (回避).
    """
    fields = {
        "channel": channel, "complainant_name": complainant_name, "content": content, "category": category,
        "urgency": urgency,
    }
    problems = intake_problems(fields)
    if source not in ("customer", "misleading_sale", clocks.POST_CLAIM):
        problems.append(f"unknown source {source!r}")
    if problems:
        raise Rejected("; ".join(problems))
    now = ctx.now
    c = Complaint(
        source=source, channel=channel, complainant_name=complainant_name.strip(),
        complainant_phone=complainant_phone or None, policy_no=policy_no or None, content=content,
        category=category, urgency=urgency, accused=accused or None, revisit_case_id=revisit_case_id,
        agent_code=agent_code or None, claim_no=claim_no or None, state="received",
        owner=owner if owner and not conflicted_with(owner, accused=accused, agent_code=agent_code) else None,
        received_at=now, reply_started_at=now,
        ack_due_at=clocks.ack_due(now, source, ctx.settings),
        feedback_due_at=clocks.feedback_due(now, source, ctx.settings, ctx.calendar),
        reply_due_at=clocks.reply_due(now, source, 0, ctx.settings),
        regulatory_due_at=clocks.reply_due(now, source, 0, ctx.settings),
        details={}, version=1, created_at=now, updated_at=now,
    )
    rearm(c, ctx)
    session.add(c)
    session.flush()
    session.execute(
        insert(AuditEntry).values(
            case_kind="complaint", case_id=c.id, version=1, event="opened", source="", target="received",
            actor=ctx.actor, at=now, flow_run_id=ctx.flow_run_id,
            payload={"source": source, "channel": channel, "category": category, "urgency": urgency,
                     "owner": c.owner, "revisit_case_id": revisit_case_id, "claim_no": claim_no},
        )
    )
    to = complainant_recipient(c)
    if to:
        queue_message(session, Message(
            channel="sms", template="complaint_ack", recipient=to,
            context={"complaint_id": c.id, "complainant_name": c.complainant_name, "reply_due_at": c.reply_due_at},
            dedupe_key=f"complaint:{c.id}:ack",
        ), kind="complaint", case_id=c.id, now=now)
    if urgency == "urgent":
        queue_message(session, escalation_message(
            c, clock="ack", due=c.ack_due_at, reason="urgent complaint: emergency path (紧急投诉)",
            recipient=SUPERVISOR, key=f"complaint:{c.id}:urgent",
        ), kind="complaint", case_id=c.id, now=now)
    return c


def register_complaint(session: Session, *, ctx: Ctx, handler: str | None, **fields: Any) -> Complaint:
    """A complaint taken in by a person (POST /complaints): its first handler owns it (首问责任人)."""
    try:
        c = open_complaint(session, ctx=ctx, source="customer", owner=handler, **fields)
        session.commit()
        return c
    except BaseException:
        session.rollback()
        raise


# --- events ---------------------------------------------------------------------------------------------------


def _load(session: Session, complaint_id: int) -> Complaint:
    c = session.get(Complaint, complaint_id, populate_existing=True)
    if c is None:
        raise CaseNotFound("complaint", complaint_id)
    return c


def _authorise(c: Complaint, event: str, handler: str, role: str) -> dict[str, Any]:
    """Who may send ``event``; returns the ownership change an implicit take brings."""
    if conflicted(c, handler):
        raise ComplaintForbidden("回避: the person complained about may not handle this complaint")
    approver = role in APPROVER_ROLES
    if event == "extend_further" and not approver:
        raise ComplaintForbidden("a further extension needs a supervisor's or manager's approval")
    if event == "take_over" and not approver:
        raise ComplaintForbidden("an escalated complaint is taken over by a supervisor or manager")
    if event in OWNERSHIP_EVENTS:
        if event == "hand_over" and c.owner and c.owner != handler and not approver:
            raise ComplaintForbidden(f"only its owner {c.owner} (or a supervisor) may hand this complaint over")
        return {}
    if approver:
        return {}
    if c.owner is None:
        return {"owner": handler}  # the first handler who acts on it takes it (首问责任制)
    if c.owner != handler:
        raise ComplaintForbidden(f"the complaint is owned by {c.owner}: ask for a handover")
    return {}


def send_complaint_event(
    session: Session,
    *,
    complaint_id: int,
    event: str,
    payload: Mapping[str, Any],
    expected_version: int | None,
    handler: str,
    role: str,
    ctx: Ctx,
) -> Complaint:
    """A manual complaint event with what it records and what follows it; everything or nothing."""
    try:
        c = _load(session, complaint_id)
        if expected_version is not None and c.version != expected_version:
            raise StaleVersion(expected_version, c.version)
        changes = _authorise(c, event, handler, role)
        body = dict(payload)
        if event in ("take", "accept_handover"):
            body["handler"] = handler  # who takes it is the caller, never a payload claim
        if event == "extend_further":
            body["approver"] = handler
        changes.update(_changes(c, event, body, ctx))
        messages = _messages(c, event, body, ctx)
        apply_event(
            session, kind="complaint", case_id=c.id, event=event, actor=ctx.actor, now=ctx.now,
            expected_version=expected_version, payload=body, changes=changes, messages=messages,
            flow_run_id=ctx.flow_run_id, commit=False,
        )
        if event == "reopen" and c.reopen_count >= ctx.settings.complaint_reopen_escalation:
            _escalate_to_manager(session, c, ctx)
        if event == "close" and c.source == clocks.POST_CLAIM and c.channel == "claim_revisit":
            post_claim_problem_closed(session, complaint=c, ctx=ctx)
        rearm(c, ctx)
        session.add(c)
        session.commit()
        return _load(session, complaint_id)
    except BaseException:
        session.rollback()
        raise


def _changes(c: Complaint, event: str, body: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    now, s = ctx.now, ctx.settings
    details = dict(c.details or {})
    if event == "acknowledge":
        return {"acknowledged_at": now}
    if event == "take":
        return {"owner": body["handler"]}
    if event == "hand_over":
        return {"pending_owner": str(body.get("to") or "").strip() or None}
    if event == "accept_handover":
        return {"owner": body["handler"], "pending_owner": None}
    if event == "decline_handover":
        return {"pending_owner": None}
    if event == "record_findings":
        details["investigation"] = {k: body.get(k) for k in ("findings", "evidence", "root_cause")}
        return {"root_cause": body.get("root_cause"), "details": details}
    if event == "make_plan":
        details["plan"] = {k: body.get(k) for k in ("measures", "department", "person", "deadline")}
        return {"details": details}
    if event == "record_progress":
        details["progress"] = [*details.get("progress", []), {"at": now.isoformat(), "note": body.get("note")}]
        marks: dict[str, Any] = {"details": details}
        if body.get("inform_complainant", True):
            marks["feedback_given_at"] = now  # the 2-working-day progress feedback is given
        return marks
    if event == "respond":
        details["result"] = body.get("result")
        return {"responded_at": now, "first_responded_at": c.first_responded_at or now,
                "satisfaction": body.get("satisfaction"), "details": details}
    if event == "close":
        details["follow_up_result"] = body.get("follow_up_result")
        marks = {"closed_at": now, "details": details, "next_deadline_at": None, "next_due_at": None}
        if isinstance(body.get("satisfaction"), int) and 1 <= body["satisfaction"] <= 5:
            marks["satisfaction"] = body["satisfaction"]
        return marks
    if event == "reopen":
        # a new round for the dissatisfied complainant: the reply clock starts again from today
        return {
            "reopen_count": c.reopen_count + 1, "reply_started_at": now, "reply_alert": 0,
            "reply_due_at": clocks.reply_due(now, c.source, c.extension_count, s),
        }
    if event in ("extend", "extend_further"):
        count = c.extension_count + 1
        start = c.reply_started_at or c.received_at
        return {"extension_count": count, "reply_alert": 0, "reply_due_at": clocks.reply_due(start, c.source, count, s),
                # the regulatory limit is extended from receipt, whatever reopening came before
                "regulatory_due_at": clocks.reply_due(c.received_at, c.source, count, s)}
    if event == "take_over":
        return {"acknowledged_at": c.acknowledged_at or now}  # the supervisor's contact acknowledges it
    return {}


def _messages(c: Complaint, event: str, body: dict[str, Any], ctx: Ctx) -> list[Message]:
    to = complainant_recipient(c)
    if to is None:
        return []
    if event == "record_progress" and body.get("inform_complainant", True):
        note = body.get("note")
    elif event in ("extend", "extend_further"):
        due = clocks.reply_due(c.reply_started_at or c.received_at, c.source, c.extension_count + 1, ctx.settings)
        note = f"处理时限延长至 {due.isoformat()}: {body.get('reason')}"  # notice of the extension
    elif event == "respond":
        return [Message(channel="sms", template="complaint_result", recipient=to,
                        context={"complaint_id": c.id, "complainant_name": c.complainant_name,
                                 "result": body.get("result")})]
    else:
        return []
    return [Message(channel="sms", template="complaint_progress", recipient=to,
                    context={"complaint_id": c.id, "complainant_name": c.complainant_name, "note": note})]


def _escalate_to_manager(session: Session, c: Complaint, ctx: Ctx) -> None:
    """After settings.complaint_reopen_escalation reopenings the manager takes charge (SPEC §2.12)."""
    reason = f"reopened {c.reopen_count} times: the complainant is still dissatisfied"
    apply_event(
        session, kind="complaint", case_id=c.id, event="escalate", actor=ctx.actor, now=ctx.now,
        payload={"reason": reason, "clock": "reopen"},
        changes={"escalated_to": MANAGER, "escalated_at": ctx.now},
        messages=[escalation_message(c, clock="reopen", due=c.reply_due_at, reason=reason, recipient=MANAGER,
                                     key=f"complaint:{c.id}:reopen:{c.reopen_count}")],
        flow_run_id=ctx.flow_run_id, commit=False,
    )
