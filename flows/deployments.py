"""Deployments served by ``caseflow serve`` — the same set, schedules and limits as ``prefect.yaml``.

One table says what each deployment is; ``deployments()`` builds the served set from it and
``tests/flows/test_deployments.py`` checks ``prefect.yaml`` against it, entry by entry.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class DeploymentSpec:
    flow: Any
    name: str
    cron: str  # SPEC §5, in TZ
    tags: tuple[str, ...]
    description: str


SPECS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(intake_new_contracts_flow, "intake-new-contracts", "0 6 * * *", ("revisit", "intake"),
                   "Daily 06:00: policy feed → revisit cases (SPEC §2.1–2.3, §2.9)."),
    DeploymentSpec(callback_dispatch_flow, "callback-dispatch", "*/5 * * * *", ("revisit", "queue"),
                   "Every 5 min: due cases, appointments and re-calls join the call queue (SPEC §2.7)."),
    DeploymentSpec(revisit_sweep_flow, "revisit-sweep", "*/10 * * * *", ("revisit", "sweep", "escalation"),
                   "Every 10 min: attempt windows, work-order deadlines, cooling-off near/expired, escalations "
                   "(SPEC §2.3, §2.7, §2.8, §5)."),
    DeploymentSpec(complaint_sla_sweep_flow, "complaint-sla-sweep", "*/10 * * * *", ("complaint", "sweep"),
                   "Every 10 min: complaint acknowledgement / feedback / 15-30-day limits; escalations (SPEC §2.12)."),
    DeploymentSpec(monthly_report_flow, "monthly-report", "0 7 * * *", ("reports", "quality"),
                   "Daily 07:00, acts on the first working day: last month's report and agent warnings "
                   "(SPEC §2.10, §2.14)."),
    DeploymentSpec(send_notifications_flow, "send-notifications", "* * * * *", ("notifications",),
                   "Every minute: send the outbox with retries, backoff and per-channel rate limits (SPEC §6)."),
    DeploymentSpec(customer_care_flow, "customer-care", "0 8 * * *", ("notifications", "care"),
                   "Daily 08:00: birthday and festival greetings, once per customer and year (SPEC §5)."),
    DeploymentSpec(claims_revisit_intake_flow, "claims-revisit-intake", "30 6 * * *", ("revisit", "claims"),
                   "Daily 06:30: claims feed → claim revisits and care touches (SPEC §2.11)."),
)


def _one_at_a_time() -> ConcurrencyLimitConfig:
    # a sweep that is still running makes the next tick pointless: cancel the new one
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def deployments() -> list[Any]:
    return [
        spec.flow.to_deployment(
            name=spec.name,
            schedules=[Cron(spec.cron, timezone=TZ)],
            concurrency_limit=_one_at_a_time(),
            tags=list(spec.tags),
            description=spec.description,
        )
        for spec in SPECS
    ]
