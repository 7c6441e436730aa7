"""complaint-sla-sweep: set-based in batches, idempotent for one as_of, safe to re-run after a kill, and
once through Prefect with its artifacts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.settings import reset_settings
from flows.complaints import complaint_sla_sweep_flow
from flows.registry import FLOWS
from models import AuditEntry, Complaint, OutboxMessage
from tests.domain.test_complaints import RECEIVED, intake


def _count(session: Session, model: Any, *where: Any) -> int:
    n = session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    return n


def _snapshot(session: Session) -> tuple[int, int, list[tuple[int, str, int]]]:
    rows = session.execute(select(Complaint.id, Complaint.state, Complaint.version).order_by(Complaint.id)).all()
    session.rollback()
    return _count(session, AuditEntry), _count(session, OutboxMessage), [tuple(r) for r in rows]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CASEFLOW_SWEEP_BATCH_SIZE", "2")
    reset_settings()
    yield
    monkeypatch.delenv("CASEFLOW_SWEEP_BATCH_SIZE")
    reset_settings()


def _five_unacknowledged(session: Session) -> list[int]:
    ids = [intake(session, RECEIVED + timedelta(minutes=k)).id for k in range(5)]
    session.rollback()
    return ids


def test_a_second_run_for_the_same_as_of_changes_nothing(session: Session, small_batches: Any) -> None:
    _five_unacknowledged(session)
    as_of = RECEIVED + timedelta(hours=25)
    first = complaint_sla_sweep_flow.fn(as_of=as_of)
    assert first["escalations"] == {"ack": 5} and first["warnings"] == {"ack": 10} and first["batches"] == 3
    before = _snapshot(session)
    second = complaint_sla_sweep_flow.fn(as_of=as_of)
    assert second["escalations"] == {} and second["warnings"] == {} and second["messages"] == 0
    assert _snapshot(session) == before


def test_a_run_killed_after_batch_k_completes_on_re_run_without_duplicates(
    session: Session, small_batches: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _five_unacknowledged(session)
    as_of = RECEIVED + timedelta(hours=25)
    import domain.complaint_sweep as sweep_module

    real = sweep_module.apply_bulk
    calls = {"n": 0}

    def dies_in_batch_two(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # batch 1 committed; batch 2 dies mid-way (after nothing of it was committed)
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "apply_bulk", dies_in_batch_two)
    with pytest.raises(RuntimeError):
        complaint_sla_sweep_flow.fn(as_of=as_of)
    assert _count(session, Complaint, Complaint.state == "escalated") == 2  # batch 1 only
    monkeypatch.setattr(sweep_module, "apply_bulk", real)

    rerun = complaint_sla_sweep_flow.fn(as_of=as_of)
    assert rerun["escalations"] == {"ack": 3}
    assert _count(session, Complaint, Complaint.state == "escalated") == 5
    for cid in ids:  # one escalation, two warnings, one escalation message per complaint: no duplicates
        assert _count(session, AuditEntry, AuditEntry.case_id == cid, AuditEntry.event == "escalate") == 1
        assert _count(session, OutboxMessage, OutboxMessage.case_id == cid,
                      OutboxMessage.template == "complaint_warning") == 2
        assert _count(session, OutboxMessage, OutboxMessage.case_id == cid,
                      OutboxMessage.template == "complaint_escalation") == 1
    assert complaint_sla_sweep_flow.fn(as_of=as_of)["messages"] == 0


def test_a_clock_running_out_while_escalated_is_recorded_as_escalate_again(session: Session) -> None:
    (cid,) = _five_unacknowledged(session)[:1]
    complaint_sla_sweep_flow.fn(as_of=RECEIVED + timedelta(hours=24))  # ack → escalated
    # the 2nd working day after Mon 10-12 ends on Wed 10-14: the feedback clock runs out too
    later = complaint_sla_sweep_flow.fn(as_of=RECEIVED + timedelta(days=3))
    assert later["escalations"].get("feedback") == 5
    events = session.execute(
        select(AuditEntry.event).where(AuditEntry.case_kind == "complaint", AuditEntry.case_id == cid)
        .order_by(AuditEntry.version)
    ).scalars().all()
    session.rollback()
    assert events == ["opened", "escalate", "escalate_again"]


def test_the_sweep_is_registered_for_the_cli() -> None:
    assert FLOWS["complaint-sla-sweep"] is complaint_sla_sweep_flow


@pytest.mark.prefect
def test_the_sweep_runs_through_prefect_with_its_artifacts(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import read_artifact_keys

    (cid,) = [intake(session).id]
    session.rollback()
    result = complaint_sla_sweep_flow(as_of=RECEIVED + timedelta(hours=24))
    assert result["escalations"] == {"ack": 1}
    audit = session.execute(
        select(AuditEntry).where(AuditEntry.case_id == cid, AuditEntry.event == "escalate")
    ).scalars().one()
    assert audit.flow_run_id  # the run id reaches the audit trail
    session.rollback()

    keys = read_artifact_keys()
    assert "complaint-sla-sweep" in keys and "complaint-sla-sweep-summary" in keys


@pytest.mark.postgres
def test_the_sweep_on_postgres_escalates_once_and_rearms(pg_session: Session) -> None:
    cid = intake(pg_session).id
    pg_session.commit()
    first = complaint_sla_sweep_flow.fn(as_of=RECEIVED + timedelta(hours=24))
    assert first["escalations"] == {"ack": 1} and first["warnings"] == {"ack": 2}
    c = pg_session.get(Complaint, cid, populate_existing=True)
    assert (c.state, c.ack_alert, c.version) == ("escalated", 3, 2)
    # the next thing to act on is the feedback clock's 50 % mark (Mon 10:00 → end of Wed 10-14)
    assert c.next_deadline_at is not None and c.next_deadline_at > RECEIVED + timedelta(hours=24)
    pg_session.commit()
    assert complaint_sla_sweep_flow.fn(as_of=RECEIVED + timedelta(hours=24))["messages"] == 0


def test_the_deployment_runs_every_10_minutes_in_shanghai_one_at_a_time() -> None:
    import yaml

    from flows.deployments import deployments

    (dep,) = [d for d in deployments() if d.name == "complaint-sla-sweep"]
    schedule = dep.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("*/10 * * * *", "Asia/Shanghai")
    assert dep.concurrency_limit == 1 and dep.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert dep.tags == ["complaint", "sweep"]
    with open("prefect.yaml", encoding="utf-8") as fh:
        (spec,) = [d for d in yaml.safe_load(fh)["deployments"] if d["name"] == "complaint-sla-sweep"]
    assert spec["entrypoint"] == "flows/complaints.py:complaint_sla_sweep_flow"
    assert spec["schedules"] == [{"cron": "*/10 * * * *", "timezone": "Asia/Shanghai"}]
    assert spec["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
