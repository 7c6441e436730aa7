"""``intake-new-contracts`` (SPEC §5, daily 06:00): drop folder + imported policies → revisit cases."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow

from core.db import session_scope
from core.settings import get_settings
from domain.intake import intake_new_contracts
from domain.policies import import_policies, read_policy_file
from domain.timers import open_due_cases
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table

NAME = "intake-new-contracts"


def read_drop_folder(*, folder: Path, actor: str, now: datetime) -> dict[str, Any]:
    """Import every CSV/JSON file of the drop folder, then move it to done/ (or failed/ when unreadable)."""
    summary: dict[str, Any] = {"files": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "failed": []}
    if not folder.exists():
        return summary
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".json")):
        try:
            records = read_policy_file(path)
        except ValueError as exc:
            summary["failed"].append({"file": path.name, "error": str(exc)})
            _move(path, folder / "failed")
            continue
        with session_scope() as session:
            result = import_policies(session=session, records=records, actor=actor, now=now)
        summary["files"] += 1
        for key in ("created", "updated", "unchanged"):
            summary[key] += getattr(result, key)
        summary["rejected"] += len(result.rejected)
        if result.rejected:
            (folder / "failed").mkdir(parents=True, exist_ok=True)
            (folder / "failed" / f"{path.stem}.rejected.txt").write_text(
                "\n".join(f"#{r['index']} {r.get('policy_no')}: {r['errors']}" for r in result.rejected),
                encoding="utf-8",
            )
        _move(path, folder / "done")
    return summary


def _move(path: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target / path.name)


@flow(name=NAME, description="Read the policy feed, apply scope and intake checks, create revisit cases.")
def intake_new_contracts_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    files = read_drop_folder(folder=get_settings().drop_folder, actor=ctx.actor, now=ctx.now)
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
