"""``intake-new-contracts`` (SPEC §5, daily 06:00): drop folder + imported policies → revisit cases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow

from core.settings import get_settings
from domain.intake import intake_new_contracts
from domain.policies import import_policies, read_policy_file
from domain.timers import open_due_cases
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table, read_drop_folder

NAME = "intake-new-contracts"


def read_policy_folder(*, folder: Path, actor: str, now: datetime) -> dict[str, Any]:
    """Import every CSV/JSON policy file of the drop folder, then move it to done/ (or failed/ when unreadable)."""
    return read_drop_folder(folder=folder, read_file=read_policy_file, import_records=import_policies,
                            key="policy_no", actor=actor, now=now)


@flow(name=NAME, description="Read the policy feed, apply scope and intake checks, create revisit cases.")
def intake_new_contracts_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    files = read_policy_folder(folder=get_settings().drop_folder, actor=ctx.actor, now=ctx.now)
    result = in_session(intake_new_contracts, ctx=ctx)
    opened = in_session(open_due_cases, ctx=ctx)
    summary = {"as_of": ctx.now.isoformat(), "files": files, **result.as_dict(), "opened": opened}
    logger().info("intake: %s", summary)
    publish_table(
        "intake-new-contracts",
        [{"created": result.created, "special": result.special, "opened": opened, **result.flagged}],
        "Cases created by intake",
    )
    publish_markdown(
        "intake-new-contracts-summary",
        f"# Intake {ctx.now:%Y-%m-%d %H:%M} UTC\n\n- files read: {files['files']} "
        f"(rejected records: {files['rejected']})\n- cases created: {result.created}\n"
        f"- flagged at intake: {result.flagged or 'none'}\n- special revisits: {result.special}\n"
        f"- earlier cases flagged, their number now shared: {result.shared_number_earlier}\n"
        f"- cooling-off periods filled in: {result.cooling_off_filled}; due dates moved: {result.due_date_moved}\n"
        f"- opened for calls: {opened}\n",
        "Intake summary",
    )
    return summary
