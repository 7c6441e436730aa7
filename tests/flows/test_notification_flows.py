"""send-notifications and customer-care: bodies called directly, then once each through Prefect."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlmodel import Session

from core.clock import UTC
from core.settings import get_settings
from domain.work_orders import notice
from flows.care import customer_care_flow
from flows.deployments import deployments
from flows.notifications import send_notifications_flow
from flows.registry import FLOWS
from models import OutboxMessage
from statemachines.engine import Message, queue_message
from tests.factories import make_policy, make_revisit, make_work_order

AS_OF = datetime(2026, 9, 25, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai, Fri 2026-09-25, Mid-Autumn
ROOT = Path(__file__).resolve().parents[2]


def _outbox(session: Session) -> dict[str, str]:
    rows = dict(session.execute(select(OutboxMessage.template, OutboxMessage.state)).all())
    session.rollback()
    return rows


def test_messages_queued_by_transitions_are_rendered_and_sent(session: Session) -> None:
    policy = make_policy(session, holder_name="张丽", holder_address="上海市浦东新区世纪大道1号",
                         product_type="traditional", payment_mode="single")
    case = make_revisit(session, policy=policy, cooling_off_end=date(2026, 10, 8))
    queue_message(session, Message("letter", "revisit_letter", f"policy:{policy.policy_no}",
                                   {"case_id": case.id, "policy_no": policy.policy_no}, f"revisit:{case.id}:letter"),
                  kind="revisit", case_id=case.id, now=AS_OF)
    order = make_work_order(session, case=case)
    queue_message(session, notice(order), kind="work_order", case_id=order.id, now=AS_OF)
    session.commit()

    summary = send_notifications_flow.fn(as_of=AS_OF)
    assert summary["sent"] == 2 and summary["failed"] == 0
    assert _outbox(session) == {"revisit_letter": "sent", "work_order_notice": "sent"}
    folder = get_settings().outbox_folder
    letter = next((folder / "letter").glob("*.html")).read_text(encoding="utf-8")
    assert "新契约回访书面问卷" in letter and "回访问卷回执" in letter and "缴费年限" not in letter
    branch = next((folder / "internal").glob("*.txt")).read_text(encoding="utf-8")
    assert branch.startswith("To: branch-sh01@service.example.cn\nSubject: 【新工单】核实件")
    assert send_notifications_flow.fn(as_of=AS_OF)["sent"] == 0  # idempotent for the same moment


def test_customer_care_then_send(session: Session) -> None:
    make_policy(session, holder_id_number="A1", holder_birth_date=date(1980, 9, 25), holder_name="张丽")
    make_policy(session, holder_id_number="B1", holder_opted_out=True, holder_birth_date=date(1980, 9, 25))
    session.commit()
    first = customer_care_flow.fn(as_of=AS_OF)
    assert first["day"] == "2026-09-25" and first["queued"] == {"birthday": 1, "mid_autumn": 1}
    assert customer_care_flow.fn(as_of=AS_OF)["queued"] == {"birthday": 0, "mid_autumn": 0}
    assert send_notifications_flow.fn(as_of=AS_OF)["by_channel"] == [
        {"channel": "sms", "sent": 2, "retried": 0, "failed": 0, "waiting": 0}
    ]
    texts = sorted(p.read_text(encoding="utf-8") for p in (get_settings().outbox_folder / "sms").glob("*.txt"))
    assert any("今天是您的生日" in t and "张*" in t and "张丽" not in t for t in texts)
    assert any("值此中秋节之际" in t for t in texts)


def test_both_flows_are_registered_and_deployed_every_minute_and_daily_at_eight() -> None:
    assert FLOWS["send-notifications"] is send_notifications_flow and FLOWS["customer-care"] is customer_care_flow
    served = {d.name: d for d in deployments()}
    assert served["send-notifications"].schedules[0].schedule.cron == "* * * * *"
    assert served["customer-care"].schedules[0].schedule.cron == "0 8 * * *"
    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    for name, cron in (("send-notifications", "* * * * *"), ("customer-care", "0 8 * * *")):
        assert declared[name]["schedules"] == [{"cron": cron, "timezone": "Asia/Shanghai"}]
        assert declared[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert served[name].concurrency_limit == 1
        assert served[name].concurrency_options.collision_strategy.value == "CANCEL_NEW"
        assert served[name].schedules[0].schedule.timezone == "Asia/Shanghai"


@pytest.mark.prefect
def test_notification_flows_run_through_prefect_with_artifacts(prefect_harness, session: Session) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    make_policy(session, holder_id_number="A1", holder_birth_date=date(1980, 9, 25))
    session.commit()
    assert customer_care_flow(as_of=AS_OF)["queued"]["birthday"] == 1
    assert send_notifications_flow(as_of=AS_OF)["sent"] == 2

    async def artifacts() -> dict[str, object]:
        async with get_client() as client:
            resp = await client._client.post("/artifacts/filter", json={"limit": 100, "offset": 0})
            resp.raise_for_status()
            return {a["key"]: a["data"] for a in resp.json() if a.get("key")}

    found = asyncio.run(artifacts())
    assert {"customer-care", "customer-care-summary", "send-notifications", "send-notifications-summary"} <= set(found)
    assert "| sms | 2 | 0 | 0 | 0 |" in str(found["send-notifications-summary"])
