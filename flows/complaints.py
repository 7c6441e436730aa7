"""``complaint-sla-sweep`` (SPEC §5, every 10 min): acknowledgement, feedback and reply limits; escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from domain.complaint_sweep import sweep_complaint_clocks
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table

NAME = "complaint-sla-sweep"


@flow(name=NAME, description="Warn at 50 % / 75 % of each complaint clock and escalate at 100 % (SPEC §2.12).")
def complaint_sla_sweep_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    result = in_session(sweep_complaint_clocks, ctx=ctx)
    summary = {"as_of": ctx.now.isoformat(), **result.as_dict()}
    logger().info("complaint-sla-sweep: %s", summary)
    rows = [
        {"clock": clock, "warnings": result.warnings.get(clock, 0), "escalations": result.escalations.get(clock, 0)}
        for clock in ("ack", "feedback", "reply")
    ]
    publish_table(NAME, rows, "Complaint clocks: warnings and escalations of this run")
    publish_markdown(
        f"{NAME}-summary",
        f"# Complaint SLA sweep {ctx.now:%Y-%m-%d %H:%M} UTC\n\n"
        + "\n".join(f"- {r['clock']}: {r['warnings']} warnings, {r['escalations']} escalations" for r in rows)
        + f"\n- complaints escalated: {result.escalated_cases}\n- messages queued: {result.messages}\n"
        f"- batches: {result.batches}\n",
        "Complaint SLA sweep summary",
    )
    return summary
