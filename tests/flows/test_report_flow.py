"""The monthly-report flow through Prefect (one harnessed run) and its deployment."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import yaml
from sqlalchemy import select
from sqlmodel import Session

from core.settings import PROJECT_ROOT
from flows.reports import monthly_report_flow
from models import AuditEntry
from tests.domain.test_reports import build_september, sh


def test_deployment_daily_at_seven_one_at_a_time() -> None:
    doc = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    entry = next(d for d in doc["deployments"] if d["name"] == "monthly-report")
    assert entry["entrypoint"] == "flows/reports.py:monthly_report_flow"
    assert entry["schedules"] == [{"cron": "0 7 * * *", "timezone": "Asia/Shanghai"}]
    assert entry["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    from flows.deployments import deployments
    from flows.registry import FLOWS

    assert FLOWS["monthly-report"] is monthly_report_flow
    deployment = next(d for d in deployments() if d.name == "monthly-report")
    assert deployment.schedules[0].schedule.cron == "0 7 * * *"
    assert deployment.schedules[0].schedule.timezone == "Asia/Shanghai"


@pytest.mark.prefect
def test_monthly_report_runs_through_prefect_with_artifacts(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    build_september(session)
    result = monthly_report_flow(as_of=sh(date(2026, 10, 8), 7))
    assert result["acted"] is True and result["success_rate"] == 50.0
    row = session.execute(select(AuditEntry).where(AuditEntry.case_kind == "report")).scalars().one()
    assert row.flow_run_id  # the run id reaches the report's audit row
    session.rollback()

    async def artifacts() -> dict[str, dict]:
        async with get_client() as client:
            resp = await client._client.post("/artifacts/filter", json={"limit": 100, "offset": 0})
            resp.raise_for_status()
            return {a["key"]: a for a in resp.json() if a.get("key")}

    found = asyncio.run(artifacts())
    assert found["monthly-report-2026-09"]["type"] == "table"
    assert found["monthly-report-2026-09-summary"]["type"] == "markdown"
    summary = found["monthly-report-2026-09-summary"]["data"]
    assert "**Success rate 50.00 %** = (5 HQ + 1 branch follow-up) / 12 required" in summary
    assert "| SH02 | 5 | 1 | 1 | 40.00 % |" in summary
