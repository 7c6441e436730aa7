"""``callback-dispatch`` (SPEC §5, every 5 min): due cases, appointments and re-calls join the call queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from domain.timers import open_due_cases, release_due_callbacks
from flows.common import flow_ctx, in_session, logger, publish_table

NAME = "callback-dispatch"


@flow(name=NAME, description="Move due revisits, appointments and re-calls into the call queue.")
def callback_dispatch_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    opened = in_session(open_due_cases, ctx=ctx)
    released = in_session(release_due_callbacks, ctx=ctx)
    summary = {"as_of": ctx.now.isoformat(), "open_calls": opened, **released}
    logger().info("callback-dispatch: %s", summary)
    publish_table("callback-dispatch", [summary], "Cases moved into the call queue")
    return summary
