"""Flows: bodies called directly for their rules, and once through Prefect to prove decorators and artifacts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import UTC
from core.settings import get_settings
from flows.callbacks import callback_dispatch_flow
from flows.intake import intake_new_contracts_flow
from models import AuditEntry, RevisitCase
from tests.factories import policy_payload

AS_OF = datetime(2026, 9, 29, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai, Tue 2026-09-29


def _drop(records: list[dict], name: str = "feed.json") -> Path:
    folder = get_settings().drop_folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_intake_flow_reads_drop_folder_and_is_idempotent(session: Session) -> None:
    due_today = policy_payload(receipt_entered_date="2026-09-27", receipt_signed_date="2026-09-26")
    not_yet = policy_payload(receipt_entered_date="2026-09-29", receipt_signed_date="2026-09-29")
    out_of_scope = policy_payload(line="accident")
    path = _drop([due_today, not_yet, out_of_scope, {"policy_no": ""}])

    first = intake_new_contracts_flow.fn(as_of=AS_OF)
    assert first["files"]["created"] == 3 and first["files"]["rejected"] == 1
    assert first["created"] == 2 and first["opened"] == 1
    assert not path.exists() and (path.parent / "done" / path.name).exists()
    states = dict(session.execute(select(RevisitCase.policy_no, RevisitCase.state)).all())
    assert states == {due_today["policy_no"]: "calling", not_yet["policy_no"]: "scheduled"}
    audits = _count(session, AuditEntry)
    session.rollback()  # end the read: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE)

    second = intake_new_contracts_flow.fn(as_of=AS_OF)
    assert second["created"] == 0 and second["opened"] == 0
    assert _count(session, RevisitCase) == 2 and _count(session, AuditEntry) == audits


def test_callback_dispatch_opens_the_case_on_its_due_day(session: Session) -> None:
    _drop([policy_payload(receipt_entered_date="2026-09-29", receipt_signed_date="2026-09-29")])
    intake_new_contracts_flow.fn(as_of=AS_OF)
    case = session.execute(select(RevisitCase)).scalars().one()
    assert case.due_date.isoformat() == "2026-09-30" and case.state == "scheduled"
    session.rollback()
    # 23:59 Asia/Shanghai on the 29th: not due yet
    assert callback_dispatch_flow.fn(as_of=datetime(2026, 9, 29, 15, 59, tzinfo=UTC))["open_calls"] == 0
    # 00:00 Asia/Shanghai on the 30th: due
    assert callback_dispatch_flow.fn(as_of=datetime(2026, 9, 29, 16, 0, tzinfo=UTC))["open_calls"] == 1
    session.expire_all()
    assert session.get(RevisitCase, case.id).state == "calling"


@pytest.mark.prefect
def test_flows_run_through_prefect_with_artifacts(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    _drop([policy_payload(receipt_entered_date="2026-09-27", receipt_signed_date="2026-09-26")])
    result = intake_new_contracts_flow(as_of=AS_OF)
    assert result["created"] == 1
    audit = session.execute(select(AuditEntry).where(AuditEntry.event == "open_calls")).scalars().one()
    assert audit.flow_run_id  # the run id reaches the audit trail
    session.rollback()

    from core.cli import main

    assert main(["flows", "run", "callback-dispatch", "--as-of", "2026-09-29T10:00:00+08:00"]) == 0

    import asyncio

    async def artifacts() -> list[str]:
        async with get_client() as client:
            # the plain endpoint: this client version sends nulls the server refuses
            resp = await client._client.post("/artifacts/filter", json={"limit": 100, "offset": 0})
            resp.raise_for_status()
            return [a["key"] for a in resp.json() if a.get("key")]

    keys = asyncio.run(artifacts())
    assert "intake-new-contracts" in keys and "intake-new-contracts-summary" in keys and "callback-dispatch" in keys


def test_intake_and_callbacks_across_national_day_week(session: Session) -> None:
    """Calls are made every day (SPEC §2.7): a case due on a holiday opens that day; an appointment on the
    make-up Saturday 10-10 comes due at its minute; each move is one audit row, the reminder one message."""
    from datetime import date

    from domain.revisits import record_attempt
    from models import OutboxMessage
    from tests.domain.test_attempts import ctx, sh

    # entered Wed 09-30 → due Thu 10-01 (National Day); signed 09-30 → cooling-off ends Thu 10-15
    _drop([policy_payload(receipt_entered_date="2026-09-30", receipt_signed_date="2026-09-30")])
    week = {
        "09-30 06:00 intake": (intake_new_contracts_flow, sh(date(2026, 9, 30), 6)),
        "09-30 23:55": (callback_dispatch_flow, sh(date(2026, 9, 30), 23, 55)),
        "10-01 00:00": (callback_dispatch_flow, sh(date(2026, 10, 1), 0)),
    }
    results = {label: flow.fn(as_of=moment) for label, (flow, moment) in week.items()}
    assert results["09-30 06:00 intake"]["created"] == 1 and results["09-30 06:00 intake"]["opened"] == 0
    assert results["09-30 23:55"]["open_calls"] == 0 and results["10-01 00:00"]["open_calls"] == 1
    case = session.execute(select(RevisitCase)).scalars().one()
    assert (case.state, case.cooling_off_end) == ("calling", date(2026, 10, 15))
    session.rollback()
    # the customer, reached on a holiday, asks to be called on the make-up working Saturday at 10:30
    record_attempt(session, case_id=case.id, outcome="appointment", answers=None, details=None,
                   appointment_at=sh(date(2026, 10, 10), 10, 30), expected_version=case.version,
                   ctx=ctx(sh(date(2026, 10, 3), 11)))
    session.rollback()
    assert callback_dispatch_flow.fn(as_of=sh(date(2026, 10, 10), 10, 29))["appointment_due"] == 0
    assert callback_dispatch_flow.fn(as_of=sh(date(2026, 10, 10), 10, 30))["appointment_due"] == 1
    assert callback_dispatch_flow.fn(as_of=sh(date(2026, 10, 10), 10, 30))["appointment_due"] == 0
    trail = session.execute(
        select(AuditEntry.event, AuditEntry.source, AuditEntry.target, AuditEntry.actor)
        .where(AuditEntry.case_kind == "revisit", AuditEntry.case_id == case.id).order_by(AuditEntry.version)
    ).all()
    assert [tuple(t) for t in trail] == [
        ("created", "", "scheduled", "flow:intake-new-contracts"),
        ("open_calls", "scheduled", "calling", "flow:callback-dispatch"),
        ("book_appointment", "calling", "appointment", "user:agent1"),
        ("appointment_due", "appointment", "calling", "flow:callback-dispatch"),
    ]
    messages = session.execute(select(OutboxMessage.template, OutboxMessage.recipient)).all()
    assert [tuple(m) for m in messages] == [("callback_reminder", "user:agent1")]
