"""Deployments served by ``caseflow serve`` — the same set, schedules and limits as ``prefect.yaml``."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from flows.callbacks import callback_dispatch_flow
from flows.care import customer_care_flow
from flows.claims import claims_revisit_intake_flow
from flows.complaints import complaint_sla_sweep_flow
from flows.intake import intake_new_contracts_flow
from flows.notifications import send_notifications_flow
from flows.reports import monthly_report_flow
from flows.sweep import revisit_sweep_flow

TZ = "Asia/Shanghai"


def _one_at_a_time() -> ConcurrencyLimitConfig:
    # a sweep that is still running makes the next tick pointless: cancel the new one
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def deployments() -> list[Any]:
    return [
        intake_new_contracts_flow.to_deployment(
            name="intake-new-contracts",
            schedules=[Cron("0 6 * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["revisit", "intake"],
            description="Daily 06:00: policy feed → revisit cases (SPEC §2.1–2.3, §2.9).",
        ),
        callback_dispatch_flow.to_deployment(
            name="callback-dispatch",
            schedules=[Cron("*/5 * * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["revisit", "queue"],
            description="Every 5 min: due cases, appointments and re-calls join the call queue (SPEC §2.7).",
        ),
        revisit_sweep_flow.to_deployment(
            name="revisit-sweep",
            schedules=[Cron("*/10 * * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["revisit", "sweep", "escalation"],
            description="Every 10 min: attempt windows, work-order deadlines, cooling-off near/expired, escalations "
            "(SPEC §2.3, §2.7, §2.8, §5).",
        ),
        complaint_sla_sweep_flow.to_deployment(
            name="complaint-sla-sweep",
            schedules=[Cron("*/10 * * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["complaint", "sweep"],
            description="Every 10 min: complaint acknowledgement / feedback / 15-30-day limits; escalations (SPEC §2.12).",
        ),
        monthly_report_flow.to_deployment(
            name="monthly-report",
            schedules=[Cron("0 7 * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["reports", "quality"],
            description="Daily 07:00, acts on the first working day: last month's report and agent warnings (SPEC §2.10, §2.14).",
        ),
        send_notifications_flow.to_deployment(
            name="send-notifications",
            schedules=[Cron("* * * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["notifications"],
            description="Every minute: send the outbox with retries, backoff and per-channel rate limits (SPEC §6).",
        ),
        customer_care_flow.to_deployment(
            name="customer-care",
            schedules=[Cron("0 8 * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["notifications", "care"],
            description="Daily 08:00: birthday and festival greetings, once per customer and year (SPEC §5).",
        ),
        claims_revisit_intake_flow.to_deployment(
            name="claims-revisit-intake",
            schedules=[Cron("30 6 * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["revisit", "claims"],
            description="Daily 06:30: claims feed → claim revisits and care touches (SPEC §2.11).",
        ),
    ]
