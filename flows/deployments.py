"""Deployments served by ``caseflow serve`` — the same set, schedules and limits as ``prefect.yaml``."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from flows.callbacks import callback_dispatch_flow
from flows.care import customer_care_flow
from flows.intake import intake_new_contracts_flow
from flows.notifications import send_notifications_flow

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
    ]
