"""``revisit-sweep`` as a flow: its body over the holiday week, and through Prefect (tasks, artifacts, events, CLI)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from domain import sweep
from flows.sweep import SweepIncomplete, revisit_sweep_flow
from models import AuditEntry, OutboxMessage, RevisitCase, WorkOrder
from tests.conftest import read_artifact_keys
from tests.domain.test_attempts import end_of, sh
from tests.factories import make_revisit, make_work_order

END = date(2026, 10, 8)  # cooling-off end of a policy signed 09-16 (10-01 is National Day)


def _cases(session: Session) -> dict[str, int]:
    calling = make_revisit(session, state="calling", cooling_off_end=END)
    order_case = make_revisit(session, state="verification", cooling_off_end=None)
    order = make_work_order(session, case=order_case, due_at=end_of(date(2026, 9, 30)))
    session.commit()
    return {"calling": calling.id, "order": order.id}


def test_the_week_day_by_day(session: Session) -> None:
    ids = _cases(session)
    session.rollback()
    days = {
        "09-27 23:59": (sh(date(2026, 9, 27), 23, 59), {}),
        "09-28 00:00": (sh(date(2026, 9, 28), 0), {"revisit.ladder_jump": 1}),
        "09-29 00:00": (sh(date(2026, 9, 29), 0), {"revisit.cooling_off_deadline_near": 1}),
        # the jump's own 1-working-day order (due end of 09-29) and the verification order (end of 09-30)
        "09-30 00:00": (sh(date(2026, 9, 30), 0), {"work_order.mark_overdue": 1, "revisit.work_order_overdue": 1}),
        "10-01 00:00": (sh(date(2026, 10, 1), 0), {"work_order.mark_overdue": 1, "revisit.work_order_overdue": 1,
                                                     "work_order.quality_list": 1}),
        "10-05 12:00": (sh(date(2026, 10, 5), 12), {}),  # a holiday: the explanation day is 10-08
        "10-09 00:00": (sh(date(2026, 10, 9), 0), {"revisit.cooling_off_expired": 1, "work_order.quality_list": 1}),
        "10-10 00:00": (sh(date(2026, 10, 10), 0), {}),
    }
    seen: dict[str, dict[str, int]] = {}
    for label, (moment, _) in days.items():
        seen[label] = revisit_sweep_flow.fn(as_of=moment)["counts"]
        assert revisit_sweep_flow.fn(as_of=moment)["counts"] == {}  # the same moment twice: nothing
    assert seen == {label: expected for label, (_, expected) in days.items()}
    case = session.get(RevisitCase, ids["calling"])
    assert (case.state, case.late, case.priority) == ("letter_or_onsite", True, 10)
    assert session.get(WorkOrder, ids["order"]).state == "quality_listed"


@pytest.mark.prefect
def test_sweep_runs_through_prefect_with_tasks_artifacts_and_events(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from prefect.client.orchestration import get_client

    ids = _cases(session)
    session.rollback()
    state = revisit_sweep_flow(as_of=sh(date(2026, 10, 9), 0), return_state=True)
    assert state.is_completed()
    summary: dict[str, Any] = state.result()
    assert summary["counts"]["revisit.cooling_off_expired"] == 1
    run_id = state.state_details.flow_run_id
    audit = session.execute(select(AuditEntry).where(AuditEntry.event == "cooling_off_expired")).scalars().one()
    assert audit.flow_run_id == str(run_id)
    session.rollback()

    async def task_runs() -> int:
        async with get_client() as client:
            # the plain endpoint: this client version's read_task_runs sends nulls the server refuses
            body = {"flow_runs": {"id": {"any_": [str(run_id)]}}, "limit": 200, "offset": 0}
            resp = await client._client.post("/task_runs/filter", json=body)
            resp.raise_for_status()
            return len(resp.json())

    assert asyncio.run(task_runs()) == len(sweep.STEPS)  # one per step, not one per case
    keys = read_artifact_keys()
    assert {"revisit-sweep", "revisit-sweep-summary", "revisit-sweep-progress"} <= set(keys)

    async def late_events() -> list[dict[str, Any]]:
        async with get_client() as client:
            body = {"filter": {"event": {"name": ["caseflow.case.late"]}}, "limit": 50}
            for _ in range(50):  # events travel through a background worker: give them a moment
                resp = await client._client.post("/events/filter", json=body)
                resp.raise_for_status()
                found = resp.json()["events"]
                if found:
                    return found
                await asyncio.sleep(0.2)
            return []

    events = asyncio.run(late_events())
    assert [e["resource"]["prefect.resource.id"] for e in events] == [f"caseflow.revisit.{ids['calling']}"]
    assert events[0]["payload"]["cooling_off_end"] == "2026-10-08"


@pytest.mark.prefect
def test_a_failed_batch_fails_the_run_visibly(prefect_harness, session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _cases(session)
    session.rollback()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a recipient the outbox refuses")

    monkeypatch.setattr(sweep, "issue_bulk", broken)
    state = revisit_sweep_flow(as_of=sh(date(2026, 9, 28), 0), return_state=True)
    assert state.is_failed()
    with pytest.raises(SweepIncomplete, match="cooling_off batch 1"):
        state.result()
    assert session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "ladder_jump")).scalar_one() == 0


@pytest.mark.prefect
def test_cli_runs_the_sweep_on_sqlite(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from core.cli import main

    ids = _cases(session)
    session.rollback()
    assert main(["flows", "run", "revisit-sweep", "--as-of", "2026-10-09T00:00:00+08:00"]) == 0
    assert session.get(RevisitCase, ids["calling"]).late is True
    assert session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() > 0


@pytest.mark.prefect
@pytest.mark.postgres
def test_cli_runs_the_sweep_on_postgresql(prefect_harness, pg_session: Session) -> None:  # type: ignore[no-untyped-def]
    from core.cli import main

    ids = _cases(pg_session)
    assert main(["flows", "run", "revisit-sweep", "--as-of", "2026-10-09T00:00:00+08:00"]) == 0
    pg_session.expire_all()
    case = pg_session.get(RevisitCase, ids["calling"])
    assert (case.state, case.late) == ("letter_or_onsite", True)
    assert pg_session.get(WorkOrder, ids["order"]).state == "quality_listed"
    assert main(["flows", "run", "revisit-sweep", "--as-of", "2026-10-09T00:00:00+08:00"]) == 0
    events = pg_session.execute(select(AuditEntry.event, func.count()).group_by(AuditEntry.event)).all()
    assert dict(events)["cooling_off_expired"] == 1


def test_the_example_automations_are_valid_prefect_automations() -> None:
    from pathlib import Path

    import yaml
    from prefect.events.schemas.automations import AutomationCore

    path = Path(__file__).resolve().parents[2] / "automations" / "caseflow-escalations.yaml"
    automations = [AutomationCore.model_validate(a) for a in yaml.safe_load(path.read_text())["automations"]]
    expected = {a.name: list(a.trigger.expect) for a in automations}  # type: ignore[union-attr]
    assert expected == {
        "caseflow-late-revisit": ["caseflow.case.late"],
        "caseflow-branch-escalation-burst": ["caseflow.case.escalated"],
    }
