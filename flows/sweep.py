"""``revisit-sweep`` (SPEC §5, every 10 min): every due timed event of the revisit and work-order machines.

One Prefect task per step of ``domain.sweep`` (five in all, however many cases are due): the task is the
unit that retries, and it retries on transient database errors only — a batch that fails on its data is
reported and skipped, and the run then fails visibly after publishing what it did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from core.db import session_scope
from domain.sweep import STEPS, SweepReport, is_transient
from flows.common import emit_case_events, flow_ctx, logger, progress, publish_markdown, publish_table, run_task

NAME = "revisit-sweep"


class SweepIncomplete(RuntimeError):
    """Some batches failed: the others were done, the run is marked failed so that managers see it."""


def _transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a step only when it failed on a lost connection or a lock, never on bad data."""
    try:
        state.result()
    except Exception as exc:  # the step's own exception, re-raised by the failed state
        return is_transient(exc)
    return False


@task(retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=_transient_only, cache_policy=NO_CACHE)
def sweep_step(step: str, as_of: datetime) -> SweepReport:
    ctx = flow_ctx(as_of, NAME)
    report = SweepReport(as_of=ctx.now)
    with session_scope() as session:
        STEPS[step](session, ctx=ctx, report=report)
    return report


def merge(reports: list[SweepReport], as_of: datetime) -> SweepReport:
    total = SweepReport(as_of=as_of)
    for r in reports:
        total.absorb(r)
    return total


def summary_markdown(report: SweepReport, worst: int = 10) -> str:
    """What escalated, what is late, the worst-overdue orders — the page a manager opens first."""
    lines = [f"# Revisit sweep as of {report.as_of:%Y-%m-%d %H:%M} UTC", ""]
    if not report.counts:
        lines.append("Nothing was due.")
    for (kind, event), n in sorted(report.counts.items()):
        lines.append(f"- {kind} `{event}`: {n}")
    lines += ["", f"Work orders issued: {dict(report.work_orders_issued) or 'none'}; messages queued: {report.messages}"]
    if report.escalated:
        lines += ["", f"## Escalated ({len(report.escalated)})", "", "| case | policy | branch | event | cooling-off end |",
                  "|---|---|---|---|---|"]
        lines += [f"| {e['case_id']} | {e['policy_no']} | {e['branch']} | {e['event']} | {e['cooling_off_end']} |"
                  for e in report.escalated[:50]]
    if report.late:
        lines += ["", f"## Late: cooling-off ended before the revisit was done ({len(report.late)})", "",
                  "| case | policy | branch | cooling-off end |", "|---|---|---|---|"]
        lines += [f"| {e['case_id']} | {e['policy_no']} | {e['branch']} | {e['cooling_off_end']} |" for e in report.late[:50]]
    if report.overdue_orders:
        oldest = sorted(report.overdue_orders, key=lambda o: o["due_at"])[:worst]
        lines += ["", f"## Worst-overdue work orders (of {len(report.overdue_orders)})", "",
                  "| order | case | branch | kind | due | now |", "|---|---|---|---|---|---|"]
        lines += [f"| {o['order_id']} | {o['case_id']} | {o['branch']} | {o['kind']} | {o['due_at']} | {o['event']} |"
                  for o in oldest]
    if report.errors:
        lines += ["", f"## Failed batches ({len(report.errors)})", ""] + [f"- {e}" for e in report.errors]
    return "\n".join(lines) + "\n"


def table_rows(report: SweepReport) -> list[dict[str, Any]]:
    rows = [{"branch": "all", "kind": kind, "event": event, "count": n} for (kind, event), n in sorted(report.counts.items())]
    rows += [{"branch": branch, "kind": "", "event": event, "count": n}
             for (branch, event), n in sorted(report.by_branch.items())]
    return rows or [{"branch": "all", "kind": "", "event": "nothing due", "count": 0}]


@flow(name=NAME, description="Fire every due timed event: attempt windows, work-order deadlines, cooling-off.")
def revisit_sweep_flow(as_of: datetime | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    bar = progress(f"{NAME}-progress", f"{NAME} as of {ctx.now.isoformat()}")
    reports = []
    for number, step in enumerate(STEPS, start=1):
        reports.append(run_task(sweep_step, step, ctx.now))
        bar(100.0 * number / len(STEPS))
    report = merge(reports, ctx.now)
    emit_case_events(
        [("caseflow.case.escalated", "revisit", e["case_id"], e) for e in report.escalated]
        + [("caseflow.case.escalated", "work_order", o["order_id"], o) for o in report.overdue_orders]
        + [("caseflow.case.late", "revisit", e["case_id"], e) for e in report.late]
    )
    publish_table(NAME, table_rows(report), "Transitions fired by the revisit sweep, per event and per branch")
    publish_markdown(f"{NAME}-summary", summary_markdown(report), "Revisit sweep: escalated, late, worst overdue")
    summary = {
        "as_of": ctx.now.isoformat(),
        "counts": {f"{kind}.{event}": n for (kind, event), n in sorted(report.counts.items())},
        "work_orders_issued": dict(report.work_orders_issued),
        "messages": report.messages,
        "escalated": len(report.escalated),
        "late": len(report.late),
        "batches": report.batches,
        "errors": report.errors,
    }
    logger().info("revisit-sweep: %s", summary)
    if report.errors:
        raise SweepIncomplete(f"{len(report.errors)} batch(es) failed and were skipped: {report.errors}")
    return summary
