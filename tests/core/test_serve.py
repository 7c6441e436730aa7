"""``caseflow serve`` on restart: the scheduled runs a stopped serve left late are dropped, the future ones kept."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest


@pytest.mark.prefect
def test_late_scheduled_runs_are_dropped_future_ones_kept(prefect_harness) -> None:  # type: ignore[no-untyped-def]
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Scheduled

    from core.serve import drop_stale_scheduled_runs

    @flow(name="serve-restart-probe")
    def probe() -> None:
        return None

    now = datetime.now(timezone.utc)

    async def make() -> tuple[str, str]:
        async with get_client() as client:
            late = await client.create_flow_run(probe, state=Scheduled(scheduled_time=now - timedelta(minutes=30)))
            later = await client.create_flow_run(probe, state=Scheduled(scheduled_time=now + timedelta(minutes=30)))
            return str(late.id), str(later.id)

    late, later = asyncio.run(make())
    assert drop_stale_scheduled_runs(PREFECT_API_URL.value(), now=now.isoformat()) >= 1

    async def exists(run_id: str) -> bool:
        from prefect.exceptions import PrefectHTTPStatusError

        async with get_client() as client:
            try:
                await client._client.get(f"/flow_runs/{run_id}")
            except PrefectHTTPStatusError as exc:  # this client raises on 404
                assert exc.response.status_code == 404
                return False
            return True

    assert not asyncio.run(exists(late)) and asyncio.run(exists(later))
