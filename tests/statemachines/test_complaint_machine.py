"""The complaint machine (SPEC §3): its declared table, timed events appliable in bulk, validators."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from core.clock import UTC
from models import AuditEntry, Complaint
from statemachines.base import TransitionRejected, final_states, mermaid, transition_rows, transition_table
from statemachines.complaint import BEFORE_REPLY, OPEN_STATES, ComplaintMachine, intake_problems
from statemachines.engine import apply_bulk
from statemachines.registry import get_kind

NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)
ROWS = transition_rows(ComplaintMachine)
TABLE = transition_table(ComplaintMachine)


def _row(state: str, **over: Any) -> SimpleNamespace:
    fields = {"state": state, "owner": None, "pending_owner": None, "accused": None, "agent_code": None,
              "extension_count": 0, "source": "customer", "root_cause": None, "details": {}}
    fields.update(over)
    return SimpleNamespace(**fields)


def test_the_lifecycle_of_the_spec_is_declared() -> None:
    path = [("acknowledge", "received", "acknowledged"), ("investigate", "acknowledged", "investigating"),
            ("make_plan", "investigating", "plan_made"), ("start_implementation", "plan_made", "implementing"),
            ("respond", "implementing", "responded"), ("start_follow_up", "responded", "follow_up"),
            ("close", "follow_up", "closed"), ("reopen", "responded", "reopened"),
            ("reopen", "follow_up", "reopened"), ("investigate", "reopened", "investigating")]
    for ev, source, target in path:
        assert TABLE[ev][source] == target
    assert final_states(ComplaintMachine) == ["closed"]
    assert get_kind("complaint").machine is ComplaintMachine and get_kind("complaint").model is Complaint


@pytest.mark.parametrize("state", [s for s in OPEN_STATES if s != "escalated"])
def test_every_open_state_escalates_by_a_timed_event(state: str) -> None:
    assert TABLE["escalate"][state] == "escalated"


@pytest.mark.parametrize("event", ComplaintMachine.timed_events)
def test_timed_events_are_unguarded_and_never_chain(event: str) -> None:
    rows = [r for r in ROWS if r.event == event]
    assert rows and not any(r.guarded for r in rows)
    sources = set(TABLE[event])
    assert not ({t for s, t in TABLE[event].items() if t != s} & sources)  # what apply_bulk refuses


def test_the_diagram_marks_the_timed_events() -> None:
    text = mermaid(ComplaintMachine)
    assert "received --> escalated : escalate [timed]" in text and "escalated --> escalated : escalate_again [timed]" in text


@pytest.mark.parametrize(
    ("state", "event", "payload", "reason"),
    [
        ("investigating", "record_findings", {"findings": "x", "evidence": [], "root_cause": "people"}, "evidence"),
        ("investigating", "record_findings", {"findings": "x", "evidence": ["a"], "root_cause": "luck"}, "root_cause"),
        ("implementing", "respond", {"result": "done", "satisfaction": 0}, "satisfaction"),
        ("implementing", "respond", {"result": "done", "satisfaction": True}, "satisfaction"),
        ("implementing", "respond", {"result": "", "satisfaction": 3}, "result"),
        ("follow_up", "reopen", {}, "reason"),
        ("implementing", "record_progress", {}, "note"),
        ("investigating", "extend_further", {"reason": "x", "approver": "sue"}, "follows the first"),
    ],
)
def test_validators_refuse_with_a_reason(state: str, event: str, payload: dict[str, Any], reason: str) -> None:
    machine = ComplaintMachine(_row(state))
    with pytest.raises(TransitionRejected, match=reason):
        machine.send(event, **payload)
    assert machine.model.state == state


def test_root_causes_and_satisfaction_bounds_accepted() -> None:
    for cause in ("process", "service_norms", "people", "systems"):
        row = _row("investigating")
        ComplaintMachine(row).send("record_findings", findings="f", evidence=["e"], root_cause=cause)
    for score in (1, 5):
        row = _row("implementing")
        ComplaintMachine(row).send("respond", result="r", satisfaction=score)
        assert row.state == "responded"


def test_intake_problems_name_each_missing_field() -> None:
    problems = intake_problems({"channel": "hotline", "complainant_name": "", "content": "x", "category": "c",
                                "urgency": "soon"})
    assert problems == ["'complainant_name' is required", "'urgency' must be one of normal, urgent"]


def test_the_reply_clock_runs_in_escalated_but_not_after_the_response() -> None:
    assert "escalated" in BEFORE_REPLY and "responded" not in BEFORE_REPLY and "follow_up" not in BEFORE_REPLY


def test_apply_bulk_escalates_from_several_states_with_one_audit_row_each(session: Session) -> None:
    ids = []
    for state in ("received", "investigating", "implementing", "closed"):
        c = Complaint(channel="hotline", complainant_name="n", content="c", category="k", state=state,
                      received_at=NOW, details={})
        session.add(c)
        session.flush()
        ids.append(c.id)
    session.commit()
    done = apply_bulk(session, kind="complaint", event="escalate", case_ids=ids, actor="flow:t", now=NOW)
    session.commit()
    assert sorted((d.case_id, d.source) for d in done) == [(ids[0], "received"), (ids[1], "investigating"),
                                                            (ids[2], "implementing")]
    audits = session.execute(select(AuditEntry.case_id, AuditEntry.version).where(AuditEntry.event == "escalate")).all()
    assert sorted(audits) == [(ids[0], 2), (ids[1], 2), (ids[2], 2)]
    assert session.get(Complaint, ids[3]).state == "closed"
