"""Producing a report: agent quality first, then the figures, the stored row (audited) and the HTML file.

A re-run for the same period replaces the stored figures only when they differ: the row's ``version`` is
bumped and an audit row (``case_kind`` "report") records each version, so the history of a corrected
report is never lost; a re-run that finds the same figures changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import insert, select
from sqlmodel import Session

from core.clock import local
from core.settings import Settings
from domain.agent_quality import assess_agents
from domain.classification import CLASSES, SUB_TYPES
from domain.report_charts import hbar_chart, line_chart
from domain.reports import compute_figures, month_key
from models import AuditEntry, MonthlyReport

if TYPE_CHECKING:
    from domain.revisits import Ctx

TEMPLATES = Path(__file__).resolve().parent / "report_templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def charts(figures: dict[str, Any], settings: Settings) -> dict[str, Any]:
    classes = figures["classes"]
    return {
        "success_by_branch": hbar_chart(
            "chart-success-by-branch", "Success rate by branch (%)",
            [(row["branch"], row["success_rate"]) for row in figures["by_branch"]], maximum=100, unit=" %",
        ),
        "class_mix": hbar_chart(
            "chart-class-mix", "Class mix (cases)",
            [(cls, classes[cls]) for cls in (*CLASSES, "unclassified")],
        ),
        "on_time_trend": line_chart(
            "chart-on-time-trend", "Work orders on time (%)",
            [(p["month"], p["on_time_rate"]) for p in figures["work_orders"]["trend"]],
        ),
    }


def render_html(figures: dict[str, Any], *, produced_at: datetime, settings: Settings) -> str:
    kind = "Annual report" if figures["kind"] == "annual" else "Monthly report"
    return _env.get_template("report.html.j2").render(
        title=f"Caseflow {kind} {figures['month']} — 新契约回访 / 投诉",
        f=figures,
        produced_at=local(produced_at).isoformat(timespec="minutes"),
        charts=charts(figures, settings),
        pct=_pct,
        sub_type_names=SUB_TYPES,
    )


def html_path(period: str, settings: Settings) -> Path:
    return Path(settings.reports_folder) / f"{period}.html"


def store_report(session: Session, *, figures: dict[str, Any], ctx: Ctx) -> tuple[MonthlyReport, bool]:
    """Insert or replace the period's row and write its HTML; (row, changed). Flushes, never commits."""
    period = figures["month"]
    row = session.execute(select(MonthlyReport).where(MonthlyReport.period == period)).scalar_one_or_none()
    path = html_path(period, ctx.settings)
    if row is not None and row.figures == figures:
        if not path.exists():  # the file went missing (another machine, a cleaned folder): same content again
            _write(path, render_html(figures, produced_at=row.produced_at, settings=ctx.settings))
        return row, False
    event = "produced" if row is None else "reproduced"
    if row is None:
        row = MonthlyReport(period=period, kind=figures["kind"], produced_at=ctx.now, figures=figures, version=1)
    else:
        row.figures, row.produced_at, row.version = figures, ctx.now, row.version + 1
    row.html_path = str(path)
    session.add(row)
    session.flush()
    session.execute(
        insert(AuditEntry).values(
            case_kind="report", case_id=row.id, version=row.version, event=event, source="",
            target="produced", actor=ctx.actor, at=ctx.now, flow_run_id=ctx.flow_run_id,
            payload={"period": period, "required": figures["required"], "success_rate": figures["success_rate"]},
        )
    )
    _write(path, render_html(figures, produced_at=ctx.now, settings=ctx.settings))
    return row, True


def _write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report


def produce_reports(session: Session, *, first: date, ctx: Ctx) -> dict[str, Any]:
    """The month starting ``first``: agent quality, the monthly report, and the annual one after December."""
    s = ctx.settings
    agents = assess_agents(session, first=first, ctx=ctx)
    monthly = compute_figures(session, first=first, months=1, settings=s)
    row, changed = store_report(session, figures=monthly, ctx=ctx)
    result: dict[str, Any] = {
        "month": month_key(first), "changed": changed, "version": row.version, "figures": monthly, "agents": agents,
        "annual": None,
    }
    if first.month == s.report_annual_month:
        annual = compute_figures(session, first=date(first.year, 1, 1), months=12, settings=s)
        annual_row, annual_changed = store_report(session, figures=annual, ctx=ctx)
        result["annual"] = {"period": annual["month"], "changed": annual_changed, "version": annual_row.version,
                            "figures": annual}
    return result
