"""``send-notifications`` (SPEC §5, every minute): drain the outbox with retries and rate limits (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from flows.common import flow_ctx, logger, publish_markdown, publish_table
from notifications.outbox import drain

NAME = "send-notifications"


@flow(name=NAME, description="Send the outbox (SMS, e-mail, letters, internal notices) with retries and rate limits.")
def send_notifications_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    report = drain(as_of=ctx.now, settings=ctx.settings)
    summary = report.as_dict()
    logger().info("send-notifications: sent %s, retried %s, failed %s, waiting %s",
                  summary["sent"], summary["retried"], summary["failed"], summary["waiting"])
    publish_table(NAME, report.rows() or [{"channel": "-", "sent": 0, "retried": 0, "failed": 0, "waiting": 0}],
                  "Messages sent / retried / failed per channel")
    publish_markdown(f"{NAME}-summary", report.markdown(), "Notifications summary")
    return summary
