"""``claims-revisit-intake``: the claims drop folder, idempotent re-runs, and one run through Prefect."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import UTC
from flows.claims import claims_folder, claims_revisit_intake_flow
from flows.intake import intake_new_contracts_flow
from models import AuditEntry, CareTouch, Claim, OutboxMessage, RevisitCase
from tests.factories import claim_payload, make_policy

AS_OF = datetime(2026, 9, 29, 22, 30, tzinfo=UTC)  # Wed 2026-09-30 06:30 Asia/Shanghai


def _count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    n = session.execute(select(func.count()).select_from(model)).scalar_one()
    session.rollback()
    return n


def _drop_claims(name: str, text: str) -> Path:
    folder = claims_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_claims_folder_is_read_and_the_flow_is_idempotent(session: Session) -> None:
    policy = make_policy(session)
    session.commit()
    json_file = _drop_claims("claims-0930.json", json.dumps([claim_payload(policy.policy_no, claim_no="C1"),
                                                             {"claim_no": "BAD"}], ensure_ascii=False))  # fmt: skip
    csv_file = _drop_claims(
        "claims-0930.csv",
        "claim_no,policy_no,claimant.name,claimant.phone,type,amount,state,closed_date,stage,handler\n"
        f"C2,{policy.policy_no},李明,13700000009,death,150000.00,closed,2026-09-29,,王\n",
    )
    broken = _drop_claims("claims-broken.json", "{not json")

    # the policy intake leaves the claims sub-folder alone
    assert intake_new_contracts_flow.fn(as_of=AS_OF)["files"]["files"] == 0
    assert json_file.exists()

    first = claims_revisit_intake_flow.fn(as_of=AS_OF)
    assert first["files"]["files"] == 2 and first["files"]["created"] == 2 and first["files"]["rejected"] == 1
    assert [f["file"] for f in first["files"]["failed"]] == ["claims-broken.json"]
    assert (first["closed_revisits"], first["touches"], first["messages"], first["large"]) == (2, 6, 6, 1)
    folder = claims_folder()
    assert (folder / "done" / json_file.name).exists() and (folder / "done" / csv_file.name).exists()
    assert (folder / "failed" / broken.name).exists()
    assert (folder / "failed" / "claims-0930.rejected.txt").read_text(encoding="utf-8").startswith("#1 BAD")
    counts = {m: _count(session, m) for m in (Claim, RevisitCase, CareTouch, OutboxMessage, AuditEntry)}

    second = claims_revisit_intake_flow.fn(as_of=AS_OF)
    assert (second["closed_revisits"], second["stage_revisits"], second["touches"], second["messages"]) == (0, 0, 0, 0)
    assert {m: _count(session, m) for m in counts} == counts


@pytest.fixture(scope="module")
def prefect_harness():  # type: ignore[no-untyped-def]
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.mark.prefect
def test_claims_flow_runs_through_prefect_with_artifacts(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    policy = make_policy(session)
    session.commit()
    _drop_claims("claims.json", json.dumps([claim_payload(policy.policy_no)], ensure_ascii=False))
    result = claims_revisit_intake_flow(as_of=AS_OF)
    assert result["closed_revisits"] == 1 and result["touches"] == 3
    audit = session.execute(select(AuditEntry).where(AuditEntry.case_kind == "revisit")).scalars().one()
    assert audit.flow_run_id  # the run id reaches the audit trail
    session.rollback()

    from core.cli import main

    assert main(["flows", "run", "claims-revisit-intake", "--as-of", "2026-09-30T06:30:00+08:00"]) == 0
    assert _count(session, RevisitCase) == 1

    async def artifacts() -> list[str]:
        async with get_client() as client:
            resp = await client._client.post("/artifacts/filter", json={"limit": 100, "offset": 0})
            resp.raise_for_status()
            return [a["key"] for a in resp.json() if a.get("key")]

    keys = asyncio.run(artifacts())
    assert "claims-revisit-intake" in keys and "claims-revisit-intake-summary" in keys
