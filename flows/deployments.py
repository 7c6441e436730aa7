"""Deployments served by ``caseflow serve`` — the same set, schedules and limits as ``prefect.yaml``."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from flows.callbacks import callback_dispatch_flow
from flows.claims import claims_revisit_intake_flow
from flows.intake import intake_new_contracts_flow

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
        claims_revisit_intake_flow.to_deployment(
            name="claims-revisit-intake",
            schedules=[Cron("30 6 * * *", timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=["revisit", "claims"],
            description="Daily 06:30: claims feed → claim revisits and care touches (SPEC §2.11).",
        ),
    ]
