"""``customer-care`` (SPEC §5, daily 08:00): birthday and festival greetings into the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from core.clock import local_date
from domain.care import queue_greetings
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table

NAME = "customer-care"


@flow(name=NAME, description="Queue today's birthday and festival greetings (opted-out customers excluded).")
def customer_care_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    queued = in_session(lambda session: queue_greetings(session, now=ctx.now, settings=ctx.settings))
    day = local_date(ctx.now)
    summary = {"as_of": ctx.now.isoformat(), "day": day.isoformat(), "queued": queued}
    logger().info("customer-care: %s", summary)
    publish_table(NAME, [{"occasion": k, "queued": v} for k, v in queued.items()], "Greetings queued per occasion")
    publish_markdown(
        f"{NAME}-summary",
        f"# Customer care {day:%Y-%m-%d}\n\n"
        + "\n".join(f"- {occasion}: {n} greeting(s) queued" for occasion, n in queued.items())
        + "\n\nSent by `send-notifications`; opted-out customers and customers already greeted this year are skipped.\n",
        "Customer-care summary",
    )
    return summary
