"""Complaints (SPEC §2.12): intake and its clocks, every clock at its boundary with frozen time (passed as
``now`` / ``as_of``), extensions, ownership (首问责任制) and 回避, reopen counting, the misleading-sale link."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.settings import get_settings
from domain import complaints as svc
from domain.complaint_sweep import sweep_complaint_clocks
from domain.revisits import send_event
from models import AuditEntry, Complaint, OutboxMessage, RevisitCase
from statemachines.engine import Rejected, StaleVersion
from tests.domain.test_attempts import ctx, end_of, sh
from tests.factories import make_revisit

MON = date(2026, 10, 12)  # Monday
RECEIVED = sh(MON, 10)


def intake(session: Session, at: datetime = RECEIVED, *, handler: str | None = "alice", **over: Any) -> Complaint:
    fields: dict[str, Any] = {
        "channel": "hotline", "complainant_name": "张丽", "complainant_phone": "13800000001",
        "content": "the agent never explained the surrender loss", "category": "sales_misleading",
        "urgency": "normal", "policy_no": "P2026000001",
    }
    fields.update(over)
    return svc.register_complaint(session, ctx=ctx(at, f"user:{handler or 'intake'}"), handler=handler, **fields)


def event(
    session: Session, cid: int, name: str, at: datetime, *, who: str = "alice", role: str = "complaint_handler",
    **payload: Any,
) -> Complaint:
    version = reload(session, cid).version
    return svc.send_complaint_event(
        session, complaint_id=cid, event=name, payload=payload, expected_version=version, handler=who, role=role,
        ctx=ctx(at, f"user:{who}"),
    )


def reload(session: Session, cid: int) -> Complaint:
    c = session.get(Complaint, cid, populate_existing=True)
    session.commit()
    return c


def sweep(at: datetime, session: Session) -> dict[str, Any]:
    result = sweep_complaint_clocks(session, ctx=ctx(at, "flow:complaint-sla-sweep"))
    return result.as_dict()


def messages(session: Session, cid: int, template: str) -> list[OutboxMessage]:
    rows = list(session.execute(
        select(OutboxMessage).where(OutboxMessage.case_id == cid, OutboxMessage.template == template)
        .order_by(OutboxMessage.id)
    ).scalars())
    session.commit()
    return rows


def events_of(session: Session, cid: int) -> list[str]:
    rows = list(session.execute(
        select(AuditEntry.event).where(AuditEntry.case_kind == "complaint", AuditEntry.case_id == cid)
        .order_by(AuditEntry.version)
    ).scalars())
    session.commit()
    return rows


FINDINGS = {"findings": "the agent skipped the surrender table", "evidence": ["call recording 17"],
            "root_cause": "people"}
PLAN = {"measures": ["refund the first premium"], "department": "service centre", "person": "alice",
        "deadline": "2026-10-20"}


def to_responded(session: Session, cid: int, at: datetime, who: str = "alice", role: str = "complaint_handler") -> None:
    state = reload(session, cid).state
    if state == "received":
        event(session, cid, "acknowledge", at, who=who, role=role)
        state = "acknowledged"
    if state in ("acknowledged", "reopened"):
        event(session, cid, "investigate", at, who=who, role=role)
    event(session, cid, "record_findings", at, who=who, role=role, **FINDINGS)
    event(session, cid, "make_plan", at, who=who, role=role, **PLAN)
    event(session, cid, "start_implementation", at, who=who, role=role)
    event(session, cid, "respond", at, who=who, role=role, result="first premium refunded", satisfaction=2)


# --- intake -----------------------------------------------------------------------------------------------


def test_intake_sets_every_clock_writes_its_audit_row_and_tells_the_complainant(session: Session) -> None:
    c = intake(session)
    assert (c.state, c.owner, c.version, c.source) == ("received", "alice", 1, "customer")
    assert c.ack_due_at == RECEIVED + timedelta(hours=24)
    assert c.feedback_due_at == end_of(date(2026, 10, 14))  # 2nd working day after Monday
    assert c.reply_due_at == end_of(date(2026, 10, 27))  # receipt day not counted, + 15 calendar days
    assert c.next_deadline_at == RECEIVED + timedelta(hours=12)  # 50 % of the 24 h acknowledgement
    assert events_of(session, c.id) == ["opened"]
    (ack,) = messages(session, c.id, "complaint_ack")
    assert ack.recipient == "phone:13800000001" and ack.context["reply_due_at"] == c.reply_due_at.isoformat()
    assert messages(session, c.id, "complaint_escalation") == []


def test_an_urgent_complaint_notifies_the_supervisor_at_once(session: Session) -> None:
    c = intake(session, urgency="urgent")
    (alert,) = messages(session, c.id, "complaint_escalation")
    assert alert.recipient == "supervisor:hq" and alert.context["clock"] == "ack"


def test_intake_without_content_is_rejected_and_writes_nothing(session: Session) -> None:
    with pytest.raises(Rejected, match="content"):
        intake(session, content=" ")
    assert session.execute(select(func.count()).select_from(Complaint)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0


def test_the_accused_taking_in_a_complaint_about_himself_does_not_own_it(session: Session) -> None:
    c = intake(session, handler="bob", accused="bob")
    assert c.owner is None


# --- the acknowledgement clock: 24 h to the minute ---------------------------------------------------------


def test_ack_warnings_at_50_and_75_percent_and_escalation_at_24_hours(session: Session) -> None:
    c = intake(session)
    assert sweep(RECEIVED + timedelta(hours=11, minutes=59), session)["warnings"] == {}
    assert sweep(RECEIVED + timedelta(hours=12), session)["warnings"] == {"ack": 1}
    assert sweep(RECEIVED + timedelta(hours=18), session)["warnings"] == {"ack": 1}
    late = sweep(RECEIVED + timedelta(hours=23, minutes=59), session)
    assert late["escalations"] == {} and reload(session, c.id).state == "received"
    due = sweep(RECEIVED + timedelta(hours=24), session)
    assert due["escalations"] == {"ack": 1}
    c = reload(session, c.id)
    assert (c.state, c.escalated_to) == ("escalated", "supervisor:hq")
    assert events_of(session, c.id) == ["opened", "escalate"]
    warnings = messages(session, c.id, "complaint_warning")
    assert [(m.context["clock"], m.context["percent"]) for m in warnings] == [("ack", 50), ("ack", 75)]
    assert [m.recipient for m in warnings] == ["user:alice", "user:alice"]
    (esc,) = messages(session, c.id, "complaint_escalation")
    assert esc.recipient == "supervisor:hq" and esc.context["clock"] == "ack"


def test_an_acknowledged_complaint_never_escalates_on_the_ack_clock(session: Session) -> None:
    c = intake(session)
    event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=23, minutes=59))
    assert sweep(RECEIVED + timedelta(hours=24), session)["escalations"] == {}
    assert reload(session, c.id).state == "acknowledged"


def test_a_supervisor_takes_over_an_escalated_complaint_back_into_investigation(session: Session) -> None:
    c = intake(session)
    sweep(RECEIVED + timedelta(hours=24), session)
    with pytest.raises(svc.ComplaintForbidden):
        event(session, c.id, "take_over", RECEIVED + timedelta(hours=25), note="called the customer")
    c = event(session, c.id, "take_over", RECEIVED + timedelta(hours=25), who="sue", role="supervisor",
              note="called the customer")
    assert c.state == "investigating" and c.acknowledged_at == RECEIVED + timedelta(hours=25)


# --- the progress-feedback clock: the 2nd working day ---------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "last_day"),
    [
        (sh(date(2026, 10, 15), 10), date(2026, 10, 19)),  # Thu → Fri, (weekend), Mon
        (sh(date(2026, 9, 29), 10), date(2026, 10, 8)),  # Tue → Wed 30th, (National Day 1–7), Thu 8th
        (sh(date(2026, 10, 9), 10), date(2026, 10, 12)),  # Fri → make-up Sat 10th, (Sun), Mon 12th
    ],
    ids=["weekend", "national-day", "make-up-saturday"],
)
def test_feedback_due_at_the_end_of_the_second_working_day(
    session: Session, received: datetime, last_day: date
) -> None:
    c = intake(session, received)
    assert c.feedback_due_at == end_of(last_day)
    event(session, c.id, "acknowledge", received + timedelta(hours=1))
    assert sweep(end_of(last_day) - timedelta(minutes=1), session)["escalations"] == {}
    assert sweep(end_of(last_day) + timedelta(microseconds=1), session)["escalations"] == {"feedback": 1}
    assert reload(session, c.id).escalated_to == "supervisor:hq"


def test_progress_told_to_the_complainant_stops_the_feedback_clock(session: Session) -> None:
    c = intake(session)
    event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=1))
    event(session, c.id, "record_progress", RECEIVED + timedelta(hours=2), note="we are checking the recording")
    (progress,) = messages(session, c.id, "complaint_progress")
    assert progress.recipient == "phone:13800000001" and progress.context["note"] == "we are checking the recording"
    assert sweep(end_of(date(2026, 10, 14)) + timedelta(minutes=1), session)["escalations"] == {}


def test_an_internal_progress_note_does_not_count_as_feedback(session: Session) -> None:
    c = intake(session)
    event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=1))
    event(session, c.id, "record_progress", RECEIVED + timedelta(hours=2), note="internal", inform_complainant=False)
    assert messages(session, c.id, "complaint_progress") == []
    assert sweep(end_of(date(2026, 10, 14)) + timedelta(minutes=1), session)["escalations"] == {"feedback": 1}


# --- the reply limit: day 15 vs 16, and the extensions ---------------------------------------------------------


def _answered_feedback(session: Session) -> Complaint:
    c = intake(session)
    event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=1))
    event(session, c.id, "investigate", RECEIVED + timedelta(hours=1))
    event(session, c.id, "record_progress", RECEIVED + timedelta(hours=2), note="investigating")
    return c


def test_reply_due_at_the_end_of_day_15_escalates_to_the_manager_on_day_16(session: Session) -> None:
    c = _answered_feedback(session)
    day15, day16 = sh(date(2026, 10, 27), 23, 59), sh(date(2026, 10, 28), 0, 0)
    assert sweep(day15, session)["escalations"] == {}
    assert reload(session, c.id).state == "investigating"
    assert sweep(day16, session)["escalations"] == {"reply": 1}
    c = reload(session, c.id)
    assert (c.state, c.escalated_to) == ("escalated", "manager:hq")
    (esc,) = messages(session, c.id, "complaint_escalation")
    assert esc.recipient == "manager:hq" and esc.context["clock"] == "reply"
    warned = [(m.context["clock"], m.context["percent"]) for m in messages(session, c.id, "complaint_warning")]
    assert warned == [("reply", 50), ("reply", 75)]


def test_extension_to_30_days_with_notice_then_a_further_30_with_approval(session: Session) -> None:
    c = _answered_feedback(session)
    c = event(session, c.id, "extend", sh(date(2026, 10, 20), 10), reason="needs the branch's records")
    assert c.reply_due_at == end_of(date(2026, 11, 11)) and c.extension_count == 1  # 10-12 + 30 days
    notice = messages(session, c.id, "complaint_progress")[-1]
    assert "2026-11-11" in notice.context["note"] and notice.recipient == "phone:13800000001"
    assert sweep(sh(date(2026, 10, 28), 0), session)["escalations"] == {}  # day 16 no longer late
    assert sweep(sh(date(2026, 11, 11), 23, 59), session)["escalations"] == {}
    # a handler cannot approve the further extension, nor extend twice without approval
    with pytest.raises(svc.ComplaintForbidden):
        event(session, c.id, "extend_further", sh(date(2026, 11, 5), 10), reason="expert opinion")
    with pytest.raises(Rejected, match="approval"):
        event(session, c.id, "extend", sh(date(2026, 11, 5), 10), reason="again")
    c = event(session, c.id, "extend_further", sh(date(2026, 11, 5), 10), who="sue", role="supervisor",
              reason="expert opinion needed")
    assert c.reply_due_at == end_of(date(2026, 12, 11)) and c.extension_count == 2  # 10-12 + 60 days
    assert c.owner == "alice"  # the approver does not take the complaint
    assert sweep(sh(date(2026, 12, 11), 23, 59), session)["escalations"] == {}
    assert sweep(sh(date(2026, 12, 12), 0), session)["escalations"] == {"reply": 1}
    with pytest.raises(Rejected, match="only once"):
        event(session, c.id, "extend_further", sh(date(2026, 12, 12), 10), who="sue", role="supervisor",
              reason="more")


def test_a_post_claim_problem_has_24_hour_response_and_48_hour_solution_clocks(session: Session) -> None:
    c = svc.open_complaint(
        session, ctx=ctx(RECEIVED, "flow:claims"), source="post_claim", channel="phone", complainant_name="李雷",
        complainant_phone="13800000002", content="the claim payment is short", category="claim", claim_no="C1",
    )
    session.commit()
    assert c.ack_due_at == RECEIVED + timedelta(hours=24) and c.reply_due_at == RECEIVED + timedelta(hours=48)
    assert c.feedback_due_at is None and c.owner is None
    event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=3))
    with pytest.raises(Rejected, match="post-claim"):
        event(session, c.id, "extend", RECEIVED + timedelta(hours=4), reason="complex")
    assert sweep(RECEIVED + timedelta(hours=47, minutes=59), session)["escalations"] == {}
    assert sweep(RECEIVED + timedelta(hours=48), session)["escalations"] == {"reply": 1}


# --- ownership (首问责任制) and 回避 -----------------------------------------------------------------------------


def test_the_owner_handles_it_others_need_an_accepted_handover(session: Session) -> None:
    c = intake(session)
    at = RECEIVED + timedelta(hours=1)
    with pytest.raises(svc.ComplaintForbidden, match="owned by alice"):
        event(session, c.id, "acknowledge", at, who="bob")
    c = event(session, c.id, "hand_over", at, to="bob")
    assert (c.owner, c.pending_owner) == ("alice", "bob")
    with pytest.raises(Rejected, match="offered to bob"):
        event(session, c.id, "accept_handover", at, who="carol")
    with pytest.raises(svc.ComplaintForbidden):  # not accepted yet: alice still owns it
        event(session, c.id, "acknowledge", at, who="bob")
    c = event(session, c.id, "accept_handover", at, who="bob")
    assert (c.owner, c.pending_owner) == ("bob", None)
    with pytest.raises(svc.ComplaintForbidden, match="owned by bob"):
        event(session, c.id, "acknowledge", at, who="alice")
    assert event(session, c.id, "acknowledge", at, who="bob").state == "acknowledged"


def test_a_declined_handover_leaves_the_owner(session: Session) -> None:
    c = intake(session)
    at = RECEIVED + timedelta(hours=1)
    event(session, c.id, "hand_over", at, to="bob")
    c = event(session, c.id, "decline_handover", at, who="bob")
    assert (c.owner, c.pending_owner) == ("alice", None)


def test_the_first_handler_who_acts_on_an_unowned_complaint_owns_it(session: Session) -> None:
    c = intake(session, handler=None)
    assert c.owner is None
    c = event(session, c.id, "acknowledge", RECEIVED + timedelta(hours=1), who="bob")
    assert c.owner == "bob"
    with pytest.raises(Rejected, match="owned by bob"):
        event(session, c.id, "take", RECEIVED + timedelta(hours=2), who="carol")


def test_the_accused_can_never_own_nor_handle_it(session: Session) -> None:
    c = intake(session, handler=None, accused="bob")
    at = RECEIVED + timedelta(hours=1)
    for name in ("take", "acknowledge"):
        with pytest.raises(svc.ComplaintForbidden, match="回避"):
            event(session, c.id, name, at, who="bob")
    event(session, c.id, "take", at, who="alice")
    with pytest.raises(Rejected, match="回避"):
        event(session, c.id, "hand_over", at, to="bob")
    with pytest.raises(svc.ComplaintForbidden, match="回避"):  # not even a supervisor who is the accused
        event(session, c.id, "acknowledge", at, who="bob", role="supervisor")
    assert reload(session, c.id).owner == "alice"


def test_a_stale_version_changes_nothing(session: Session) -> None:
    c = intake(session)
    with pytest.raises(StaleVersion):
        svc.send_complaint_event(
            session, complaint_id=c.id, event="acknowledge", payload={}, expected_version=7, handler="alice",
            role="complaint_handler", ctx=ctx(RECEIVED, "user:alice"),
        )
    assert reload(session, c.id).state == "received"


# --- the lifecycle and reopen counting ----------------------------------------------------------------------


def test_each_step_requires_what_it_must_record(session: Session) -> None:
    c = intake(session)
    at = RECEIVED + timedelta(hours=1)
    event(session, c.id, "acknowledge", at)
    event(session, c.id, "investigate", at)
    with pytest.raises(Rejected, match="root_cause"):
        event(session, c.id, "record_findings", at, **{**FINDINGS, "root_cause": "weather"})
    with pytest.raises(Rejected, match="record the findings"):
        event(session, c.id, "make_plan", at, **PLAN)
    event(session, c.id, "record_findings", at, **FINDINGS)
    with pytest.raises(Rejected, match="deadline"):
        event(session, c.id, "make_plan", at, **{**PLAN, "deadline": "soon"})
    event(session, c.id, "make_plan", at, **PLAN)
    event(session, c.id, "start_implementation", at)
    with pytest.raises(Rejected, match="satisfaction"):
        event(session, c.id, "respond", at, result="refunded", satisfaction=6)
    c = event(session, c.id, "respond", at, result="refunded", satisfaction=4)
    assert (c.state, c.satisfaction, c.root_cause, c.responded_at) == ("responded", 4, "people", at)
    assert c.next_deadline_at is None  # nothing left to warn about once answered
    (result,) = messages(session, c.id, "complaint_result")
    assert result.context["result"] == "refunded"
    event(session, c.id, "start_follow_up", at)
    with pytest.raises(Rejected, match="follow_up_result"):
        event(session, c.id, "close", at)
    c = event(session, c.id, "close", at, follow_up_result="customer satisfied with the refund", satisfaction=5)
    assert (c.state, c.closed_at, c.satisfaction) == ("closed", at, 5)


def test_the_second_reopening_escalates_to_the_manager(session: Session) -> None:
    c = intake(session)
    at = RECEIVED + timedelta(hours=1)
    to_responded(session, c.id, at)
    c = event(session, c.id, "reopen", at + timedelta(days=1), reason="the refund is not enough")
    assert (c.state, c.reopen_count, c.escalated_to) == ("reopened", 1, None)
    # a new round: the reply clock restarts from the reopening
    assert c.reply_due_at == end_of(date(2026, 10, 28))
    to_responded(session, c.id, at + timedelta(days=2))
    event(session, c.id, "start_follow_up", at + timedelta(days=3))
    c = event(session, c.id, "reopen", at + timedelta(days=3), reason="still not enough")
    assert (c.state, c.reopen_count, c.escalated_to) == ("escalated", 2, "manager:hq")
    (esc,) = messages(session, c.id, "complaint_escalation")
    assert esc.recipient == "manager:hq" and esc.context["clock"] == "reopen"
    assert events_of(session, c.id)[-2:] == ["reopen", "escalate"]
    c = event(session, c.id, "take_over", at + timedelta(days=4), who="max", role="manager", note="I call her")
    assert c.state == "investigating" and c.owner == "alice"


# --- the misleading-sale link -------------------------------------------------------------------------------


def test_a_confirmed_misleading_sale_opens_a_linked_complaint_in_the_same_transaction(session: Session) -> None:
    case = make_revisit(session, state="follow_up_call")
    session.commit()
    at = sh(MON, 11)
    send_event(session, case_id=case.id, event="confirm_misleading", payload={"reason": "returns promised"},
               expected_version=case.version, ctx=ctx(at, "user:sue"))
    assert session.get(RevisitCase, case.id, populate_existing=True).state == "misleading_confirmed"
    (c,) = session.execute(select(Complaint)).scalars().all()
    assert (c.source, c.revisit_case_id, c.agent_code, c.accused, c.policy_no) == (
        "misleading_sale", case.id, case.agent_code, case.agent_code, case.policy_no)
    assert c.owner is None and c.received_at == at and "returns promised" in c.content
    assert events_of(session, c.id) == ["opened"]
    with pytest.raises(svc.ComplaintForbidden, match="回避"):  # the agent never handles it
        event(session, c.id, "take", at, who=case.agent_code)


def test_the_revisit_stays_unchanged_when_its_complaint_cannot_be_opened(session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = make_revisit(session, state="follow_up_call")
    session.commit()

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("domain.revisits.open_complaint", broken)
    with pytest.raises(RuntimeError):
        send_event(session, case_id=case.id, event="confirm_misleading", payload={"reason": "x"},
                   expected_version=case.version, ctx=ctx(sh(MON, 11), "user:sue"))
    assert session.get(RevisitCase, case.id, populate_existing=True).state == "follow_up_call"
    assert session.execute(select(func.count()).select_from(Complaint)).scalar_one() == 0


def test_settings_name_every_complaint_number() -> None:
    s = get_settings()
    assert (s.complaint_ack_hours, s.complaint_feedback_workdays, s.complaint_reply_days) == (24, 2, 15)
    assert (s.complaint_extension_days, s.complaint_further_extension_days, s.complaint_reopen_escalation) == (30, 30, 2)


def test_report_judges_on_time_by_the_first_reply_against_the_limit_from_receipt(session: Session) -> None:
    """Received Mon 10-12 10:00: the 15-day limit ends 10-27 23:59:59.999999. A reopening restarts the working
    reply clock (to 11-12) but the report still judges the first reply against 10-27 (SPEC §2.12)."""
    from domain.reports import complaint_figures

    limit = end_of(date(2026, 10, 27))
    ids = []
    for first_reply in (limit, limit + timedelta(microseconds=1)):
        c = intake(session)
        assert c.regulatory_due_at == limit
        to_responded(session, c.id, first_reply)
        event(session, c.id, "start_follow_up", sh(date(2026, 10, 28), 9))
        c = event(session, c.id, "reopen", sh(date(2026, 10, 28), 10), reason="the refund is not enough")
        assert (c.reply_due_at, c.regulatory_due_at) == (end_of(date(2026, 11, 12)), limit)
        to_responded(session, c.id, sh(date(2026, 10, 29), 10))  # the second round's reply, well inside its clock
        event(session, c.id, "start_follow_up", sh(date(2026, 10, 30), 9))
        c = event(session, c.id, "close", sh(date(2026, 10, 30), 10), follow_up_result="accepted")
        assert (c.first_responded_at, c.responded_at) == (first_reply, sh(date(2026, 10, 29), 10))
        ids.append(c.id)
    figures = complaint_figures(session, date(2026, 10, 1), 1, get_settings())
    assert (figures["closed"], figures["on_time"]) == (2, 1)


def test_an_extension_after_a_reopening_extends_the_regulatory_limit_from_receipt(session: Session) -> None:
    c = intake(session)
    to_responded(session, c.id, sh(date(2026, 10, 20), 10))
    event(session, c.id, "start_follow_up", sh(date(2026, 10, 21), 9))
    event(session, c.id, "reopen", sh(date(2026, 10, 21), 10), reason="not enough")
    c = event(session, c.id, "extend", sh(date(2026, 10, 22), 10), reason="complex: a second opinion is needed")
    # 30 days from receipt (10-12) for the report; the working clock extends from the reopening (10-21)
    assert (c.regulatory_due_at, c.reply_due_at) == (end_of(date(2026, 11, 11)), end_of(date(2026, 11, 20)))
