"""``monthly-report`` (SPEC §2.14, §5; daily 07:00): on the first working day of a month, the report of the
month before (月报, 每月第一个工作日), the agents' warnings (§2.10) and, after December, the annual report.

Scheduled every day because the first working day moves (2026-10: National Day → 10-08; 2026-01: 01-04, a
make-up Sunday); on any other day the run does nothing. ``month="YYYY-MM"`` re-runs a past month explicitly,
whatever the day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from core.clock import local_date
from domain.report_output import produce_reports
from domain.reports import add_months, month_key, parse_month, previous_month
from flows.common import flow_ctx, in_session, logger, publish_markdown, publish_table

NAME = "monthly-report"


def _summary_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    wo, co = figures["work_orders"], figures["complaints"]
    rows = [
        ("required 应访", figures["required"]),
        ("HQ successes 总公司成功", figures["hq_successes"]),
        ("branch follow-up successes 分公司后续成功", figures["branch_successes"]),
        ("success rate %", figures["success_rate"]),
        ("within cooling-off", figures["within_cooling_off"]),
        ("late", figures["late"]),
        ("work orders due / on time / overdue / explained / quality-listed",
         f"{wo['due']} / {wo['on_time']} / {wo['overdue']} / {wo['explained']} / {wo['quality_listed']}"),
        ("complaints received / closed / on time", f"{co['received']} / {co['closed']} / {co['on_time']}"),
        ("complaint satisfaction (avg)", co["satisfaction"]["average"]),
        ("agent warnings issued", figures["agent_warnings"]["issued"]),
    ]
    return [{"figure": k, "value": v} for k, v in rows]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def _markdown(figures: dict[str, Any], html_name: str) -> str:
    lines = [
        f"# {'Annual' if figures['kind'] == 'annual' else 'Monthly'} report {figures['month']}",
        "",
        f"**Success rate {_pct(figures['success_rate'])}** = ({figures['hq_successes']} HQ + "
        f"{figures['branch_successes']} branch follow-up) / {figures['required']} required.",
        "",
        "| branch | required | HQ | branch | rate |",
        "|---|---|---|---|---|",
        *(f"| {r['branch']} | {r['required']} | {r['hq_successes']} | {r['branch_successes']} | {_pct(r['success_rate'])} |"
          for r in figures["by_branch"]),
        "",
        f"Top complaint root causes: {', '.join(figures['complaints']['top_root_causes']) or 'none'}. "
        f"Agents warned: {', '.join(figures['agent_warnings']['agents']) or 'none'}. "
        f"HTML report: `{html_name}`.",
    ]
    return "\n".join(lines)


@flow(name=NAME, description="First working day of the month: last month's report, agent warnings, annual report.")
def monthly_report_flow(as_of: datetime | None = None, month: str | None = None) -> dict[str, Any]:
    ctx = flow_ctx(as_of, NAME)
    today = local_date(ctx.now)
    if month is None:
        first_workday = ctx.calendar.next_workday(today.replace(day=1))
        if today != first_workday:
            logger().info("monthly-report: %s is not the first working day (%s); nothing to do", today, first_workday)
            return {"as_of": ctx.now.isoformat(), "acted": False, "first_working_day": first_workday.isoformat()}
        first = previous_month(today)
    else:
        first = parse_month(month)
        if add_months(first, 1) > today.replace(day=1):
            raise ValueError(f"month {month} has not ended on {today}: only a past month can be reported")
    def produce(session: Any) -> Any:
        result = produce_reports(session, first=first, ctx=ctx)
        session.commit()
        return result

    result = in_session(produce)
    figures = result["figures"]
    key = f"monthly-report-{month_key(first)}"
    publish_table(key, _summary_rows(figures), f"Monthly report {month_key(first)} (SPEC §2.14)")
    publish_markdown(f"{key}-summary", _markdown(figures, f"{month_key(first)}.html"), "Monthly report summary")
    if result["annual"]:
        annual = result["annual"]["figures"]
        publish_table(f"annual-report-{annual['month']}", _summary_rows(annual), f"Annual report {annual['month']}")
        publish_markdown(f"annual-report-{annual['month']}-summary", _markdown(annual, f"{annual['month']}.html"),
                         "Annual report summary")
    summary = {
        "as_of": ctx.now.isoformat(),
        "acted": True,
        "month": month_key(first),
        "changed": result["changed"],
        "version": result["version"],
        "success_rate": figures["success_rate"],
        "agents_warned": result["agents"]["warned"],
        "warnings_queued": result["agents"]["warnings_queued"],
        "investigations": result["agents"]["investigations"],
        "annual": result["annual"]["period"] if result["annual"] else None,
    }
    logger().info("monthly-report: %s", summary)
    return summary
