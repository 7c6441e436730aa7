"""The monthly report (SPEC §2.14): a month of known cases, every figure checked exactly.

The month is September 2026. October 1–7 is National Day, so the first working day of October — the day
the report is produced — is Thursday 2026-10-08. Rows and audit entries are inserted directly with frozen
times; the flow body is called with ``as_of``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import Session

from core.clock import UTC
from flows.reports import monthly_report_flow
from models import AuditEntry, Complaint, MonthlyReport, OutboxMessage, RevisitCase, WorkOrder
from tests.factories import make_policy, make_revisit, make_work_order

SH = ZoneInfo("Asia/Shanghai")


def sh(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SH).astimezone(UTC)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=SH).astimezone(UTC) - timedelta(microseconds=1)


def audit(session: Session, kind: str, case_id: int, event: str, target: str, at: datetime, source: str = "") -> None:
    version = 1 + session.execute(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.case_kind == kind, AuditEntry.case_id == case_id)
    ).scalar_one()
    session.execute(
        insert(AuditEntry).values(
            case_kind=kind, case_id=case_id, version=version, event=event, source=source, target=target,
            actor="test", at=at, payload={},
        )
    )


def revisit(session: Session, *, branch: str, channel: str, agent: str, ends: date, state: str,
            cls: str | None = None, closed_by: str | None = None, closed_at: datetime | None = None,
            **over: Any) -> RevisitCase:
    """A revisit whose cooling-off period ends on ``ends`` (its month's cohort), due 14 days before."""
    policy = make_policy(session, branch_code=branch, channel=channel, agent_code=agent)
    case = make_revisit(session, policy=policy, state=state, classification=cls, due_date=ends - timedelta(days=14),
                        cooling_off_end=ends, **over)
    if closed_by:
        target = "closed_failed" if closed_by == "close_failed" else "closed_success"
        audit(session, "revisit", case.id, closed_by, target, closed_at)  # type: ignore[arg-type]
    return case


def build_september(session: Session) -> dict[str, RevisitCase]:
    """12 required revisits (cooling-off ended in September), 7 work orders due, 5 complaints — each figure
    below is derived in a comment. A success after the case's cooling-off end is flagged ``late``."""
    d = lambda n: date(2026, 9, n)  # noqa: E731
    c: dict[str, RevisitCase] = {}
    # SH01 / agency / agent A1: four HQ successes (standard, standard-late, sub-standard, problem follow-up)
    c["c1"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(12), state="closed_success",
                      cls="standard", closed_by="close", closed_at=sh(d(10)))
    c["c2"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(3), state="closed_success",
                      cls="standard", closed_by="close", closed_at=sh(d(20)), late=True)
    c["c3"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(15), state="closed_success",
                      cls="substandard", sub_types=["unclear_coverage"], closed_by="remark_recorded", closed_at=sh(d(15)))
    c["c4"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(25), state="closed_success",
                      cls="problem", problem_category="misleading_suspected",
                      sub_types=["unclear_payment_term", "unclear_returns"],
                      closed_by="follow_up_understood", closed_at=sh(d(25)))
    # SH02 / bancassurance / agent B1: a branch letter success in the month, one only after the month ended
    c["c5"] = revisit(session, branch="SH02", channel="bancassurance", agent="B1", ends=d(28), state="closed_success",
                      cls="verification", closed_by="letter_or_onsite_success", closed_at=sh(d(28)))
    c["c6"] = revisit(session, branch="SH02", channel="bancassurance", agent="B1", ends=d(7), state="closed_success",
                      cls="verification", closed_by="letter_or_onsite_success", closed_at=sh(date(2026, 10, 3)))
    # SH02 / telesales / B1: failed after every rung; a late sub-standard success (remark exactly at month end)
    c["c7"] = revisit(session, branch="SH02", channel="telesales", agent="B1", ends=d(8), state="closed_failed",
                      cls="verification", closed_by="close_failed", closed_at=sh(d(29)))
    c["c13"] = revisit(session, branch="SH02", channel="telesales", agent="B1", ends=d(29), state="closed_success",
                       cls="substandard", sub_types=["unclear_coverage", "unclear_cooling_off_surrender"],
                       closed_by="remark_recorded", closed_at=end_of(d(30)), late=True)
    # SH01 / agent A2: open cases — a proxy-signature problem, one never classified, a verification
    c["c8"] = revisit(session, branch="SH01", channel="bancassurance", agent="A2", ends=d(10), state="problem",
                      cls="problem", problem_category="proxy_signature")
    c["c9"] = revisit(session, branch="SH01", channel="agency", agent="A2", ends=d(1), state="calling")
    c["c14"] = revisit(session, branch="SH01", channel="agency", agent="A2", ends=d(30), state="verification",
                       cls="verification")
    # c14's period ends on the month's last day: September's. Not required in September: cancelled, cooling-off
    # ended in August / October (x_august closed in September), a claim revisit
    c["x_cancelled"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(12), state="cancelled")
    audit(session, "revisit", c["x_cancelled"].id, "cancel", "cancelled", sh(d(14)), source="calling")
    # cancelled only after the month ended (surrendered 10-05): still required, and open, as at 09-30
    c["c15"] = revisit(session, branch="SH02", channel="telesales", agent="B1", ends=d(21), state="cancelled")
    audit(session, "revisit", c["c15"].id, "cancel", "cancelled", sh(date(2026, 10, 5)), source="calling")
    c["x_august"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=date(2026, 8, 31),
                            state="closed_success", cls="standard", closed_by="close", closed_at=sh(d(2)), late=True)
    c["x_october"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=date(2026, 10, 1),
                             state="calling")
    c["x_claim"] = revisit(session, branch="SH01", channel="agency", agent="A1", ends=d(12), state="closed_success",
                           cls="standard", closed_by="close", closed_at=sh(d(14)), kind="claim", claim_no="C1")

    # --- work orders due in September (local) ----------------------------------------------------------------
    host = c["c8"]

    def order(due: datetime, state: str, *events: tuple[str, str, datetime]) -> WorkOrder:
        o = make_work_order(session, case=host, due_at=due, state=state, kind="problem")
        audit(session, "work_order", o.id, "created", "open", due - timedelta(days=3))  # type: ignore[arg-type]
        for event, target, at in events:
            audit(session, "work_order", o.id, event, target, at)  # type: ignore[arg-type]
        return o

    order(end_of(d(10)), "accepted", ("submit", "submitted", sh(d(9))), ("accept", "accepted", sh(d(10))))  # on time
    order(end_of(d(15)), "submitted", ("submit", "submitted", end_of(d(15))))  # on time: submitted at the due instant
    order(end_of(d(15)), "explained", ("mark_overdue", "overdue", sh(d(16), 0, 10)),
          ("explain", "explained", sh(d(17))))  # overdue, explained
    order(end_of(d(20)), "quality_listed", ("mark_overdue", "overdue", sh(d(21), 0, 10)),
          ("quality_list", "quality_listed", sh(d(23))))  # overdue, quality-listed
    order(end_of(d(22)), "overdue", ("mark_overdue", "overdue", sh(d(23), 0, 10)))  # overdue
    # due at the very end of the month: the sweep marks it overdue on 10-01, after the cut-off → pending
    order(end_of(d(30)), "overdue", ("mark_overdue", "overdue", sh(date(2026, 10, 1), 0, 10)))
    # submitted one microsecond after its due time, before the sweep ran: not on time, not overdue → pending
    order(end_of(d(28)), "submitted", ("submit", "submitted", end_of(d(28)) + timedelta(microseconds=1)))
    order(end_of(d(25)), "cancelled", ("cancel", "cancelled", sh(d(20))))  # cancelled: not counted
    order(end_of(date(2026, 10, 9)), "open")  # due in October: not counted
    # the trend: July one overdue order, August one on time
    order(end_of(date(2026, 7, 20)), "overdue", ("mark_overdue", "overdue", sh(date(2026, 7, 21), 0, 10)))
    order(end_of(date(2026, 8, 20)), "accepted", ("submit", "submitted", sh(date(2026, 8, 19))))

    # --- complaints --------------------------------------------------------------------------------------
    def complaint(received: datetime, **over: Any) -> None:
        session.add(Complaint(channel="hotline", complainant_name="李明", content="…", category="service",
                              received_at=received, **over))

    complaint(sh(d(3)), state="closed", responded_at=sh(d(9)), closed_at=sh(d(10)), reply_due_at=end_of(d(18)),
              satisfaction=5, root_cause="people")  # on time
    complaint(sh(date(2026, 8, 25)), state="closed", responded_at=sh(d(11)), closed_at=sh(d(12)),
              reply_due_at=end_of(d(9)), satisfaction=2, root_cause="process")  # received in August, late
    complaint(sh(d(20)), state="investigating", reply_due_at=end_of(date(2026, 10, 5)))  # open
    complaint(sh(d(5)), state="closed", closed_at=sh(d(19)), reply_due_at=end_of(d(20)),
              root_cause="people")  # on time by its closing time (no separate response recorded)
    complaint(sh(d(28)), state="closed", responded_at=sh(date(2026, 10, 2)), closed_at=sh(date(2026, 10, 2)),
              reply_due_at=end_of(date(2026, 10, 13)), satisfaction=1, root_cause="systems")  # closed in October
    session.commit()
    return c


EXPECTED: dict[str, Any] = {
    "month": "2026-09",
    "kind": "monthly",
    "period_start": "2026-09-01",
    "period_end": "2026-09-30",
    # c1 c2 c3 c4 c5 c6 c7 c8 c9 c13 c14 c15
    "required": 12,
    "hq_successes": 5,  # c1 close, c2 close, c3 remark, c4 follow-up, c13 remark (at 23:59:59.999999 on 09-30)
    "branch_successes": 1,  # c5 letter; c6's letter success came on 10-03, after the cut-off
    "successes": 6,
    "success_rate": 50.0,  # (5 + 1) / 12 × 100
    "within_cooling_off": 4,  # 6 successes − 2 late
    "within_cooling_off_share": 33.33,  # 4 / 12
    "late": 2,  # c2, c13
    "failed": 1,  # c7
    "open": 5,  # c6, c8, c9, c14, c15
    "by_branch": [
        {"branch": "SH01", "required": 7, "hq_successes": 4, "branch_successes": 0, "success_rate": 57.14},
        {"branch": "SH02", "required": 5, "hq_successes": 1, "branch_successes": 1, "success_rate": 40.0},
    ],
    "by_channel": [
        {"channel": "agency", "required": 6, "hq_successes": 4, "branch_successes": 0, "success_rate": 66.67},
        {"channel": "bancassurance", "required": 3, "hq_successes": 0, "branch_successes": 1, "success_rate": 33.33},
        {"channel": "telesales", "required": 3, "hq_successes": 1, "branch_successes": 0, "success_rate": 33.33},
    ],
    "classes": {
        "standard": 2,
        "substandard": 2,
        "problem": 2,
        "verification": 4,
        "unclassified": 2,
        "sub_types": {
            "substandard": {"unclear_coverage": 2, "unclear_cooling_off_surrender": 1},
            "problem": {"unclear_payment_term": 1, "unclear_returns": 1},
        },
        "problem_categories": {"misleading_suspected": 1, "proxy_signature": 1},
    },
    "work_orders": {
        "due": 7,
        "on_time": 2,
        "overdue": 3,
        "explained": 1,
        "quality_listed": 1,
        "pending": 2,
        "on_time_rate": 28.57,  # 2 / 7
        "trend": [
            {"month": "2026-04", "due": 0, "on_time": 0, "on_time_rate": None},
            {"month": "2026-05", "due": 0, "on_time": 0, "on_time_rate": None},
            {"month": "2026-06", "due": 0, "on_time": 0, "on_time_rate": None},
            {"month": "2026-07", "due": 1, "on_time": 0, "on_time_rate": 0.0},
            {"month": "2026-08", "due": 1, "on_time": 1, "on_time_rate": 100.0},
            {"month": "2026-09", "due": 7, "on_time": 2, "on_time_rate": 28.57},
        ],
    },
    "complaints": {
        "received": 4,  # 09-03, 09-20, 09-05, 09-28
        "closed": 3,  # 09-10, 09-12, 09-19
        "on_time": 2,
        "on_time_rate": 66.67,
        "satisfaction": {"answered": 2, "average": 3.5, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}},
        "root_causes": [{"root_cause": "people", "count": 2}, {"root_cause": "process", "count": 1}],
        "top_root_causes": ["people", "process"],
    },
    # A1: 4 / 4 = 100 %; A2: 0 / 3; B1: 1 / 5 = 20 % (HQ phone successes only)
    "agent_warnings": {"issued": 2, "agents": ["A2", "B1"], "investigations": []},
}


def _report(session: Session, period: str) -> MonthlyReport | None:
    row = session.execute(select(MonthlyReport).where(MonthlyReport.period == period)).scalar_one_or_none()
    session.rollback()
    return row


def test_first_working_day_rule_and_every_figure(session: Session) -> None:
    build_september(session)
    # 10-01 is National Day: the 07:00 run does nothing, nor does any run up to 10-07
    for day in (1, 4, 7):
        result = monthly_report_flow.fn(as_of=sh(date(2026, 10, day), 7))
        assert result["acted"] is False and result["first_working_day"] == "2026-10-08"
    assert _report(session, "2026-09") is None
    # 10-08, the first working day: September's report
    result = monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    assert result["acted"] is True and result["month"] == "2026-09" and result["success_rate"] == 50.0
    row = _report(session, "2026-09")
    assert row is not None and row.figures == EXPECTED
    assert row.produced_at == sh(date(2026, 10, 8), 7)
    # the day after does nothing again
    assert monthly_report_flow.fn(as_of=sh(date(2026, 10, 9), 7))["acted"] is False


def test_first_working_day_is_a_make_up_sunday(session: Session) -> None:
    # 2026-01-01..03 New Year holiday; Sunday 01-04 is a make-up working day: December's report comes then
    assert monthly_report_flow.fn(as_of=sh(date(2026, 1, 2), 7))["acted"] is False
    result = monthly_report_flow.fn(as_of=sh(date(2026, 1, 4), 7))
    assert result["acted"] is True and result["month"] == "2025-12" and result["annual"] == "2025"


def test_agent_warnings_go_out_once(session: Session) -> None:
    build_september(session)
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    rows = session.execute(select(OutboxMessage).where(OutboxMessage.template == "agent_warning")).scalars().all()
    session.rollback()
    by_agent = {m.recipient: m for m in rows}
    assert set(by_agent) == {"agent:A2", "agent:B1"}
    msg = by_agent["agent:B1"]
    assert msg.channel == "sms" and msg.dedupe_key == "agent_warning:B1:2026-09"
    assert msg.context == {"agent_code": "B1", "agent_name": "王强", "month": "2026-09", "success_rate": 20.0,
                           "threshold": 80.0}


def _chart(html: str, chart_id: str) -> list[tuple[str, str]]:
    svg = re.search(rf'<svg id="{chart_id}".*?</svg>', html, re.S)
    assert svg, f"chart {chart_id} missing"
    return re.findall(r'<g class="mark" data-label="([^"]+)" data-value="([^"]+)"', svg.group(0))


def test_html_report_has_its_charts_with_the_figures(session: Session) -> None:
    build_september(session)
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    row = _report(session, "2026-09")
    assert row is not None and row.html_path
    html = Path(row.html_path).read_text(encoding="utf-8")
    assert Path(row.html_path).name == "2026-09.html"
    assert _chart(html, "chart-success-by-branch") == [("SH01", "57.14"), ("SH02", "40.00")]
    assert _chart(html, "chart-class-mix") == [
        ("standard", "2"), ("substandard", "2"), ("problem", "2"), ("verification", "4"), ("unclassified", "2"),
    ]
    assert _chart(html, "chart-on-time-trend") == [
        ("2026-04", "n/a"), ("2026-05", "n/a"), ("2026-06", "n/a"),
        ("2026-07", "0.00"), ("2026-08", "100.00"), ("2026-09", "28.57"),
    ]
    assert "50.00 %" in html and "<title>SH01: 57.14 %</title>" in html


def _counts(session: Session) -> tuple[int, int]:
    audits = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    outbox = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    session.rollback()
    return audits, outbox


def test_rerun_is_idempotent_and_a_corrected_history_makes_a_new_version(session: Session) -> None:
    cases = build_september(session)
    as_of = sh(date(2026, 10, 8), 7)
    monthly_report_flow.fn(as_of=as_of)
    before = _counts(session)
    again = monthly_report_flow.fn(as_of=as_of)
    assert again["changed"] is False and again["version"] == 1 and _counts(session) == before
    # an explicit re-run weeks later finds the same month unchanged too (figures are as at the month end)
    assert monthly_report_flow.fn(as_of=sh(date(2026, 11, 20), 9), month="2026-09")["changed"] is False
    # history corrected: c9 was in fact closed as standard on 09-30 → the report is replaced, version 2, audited
    audit(session, "revisit", cases["c9"].id, "close", "closed_success", sh(date(2026, 9, 30), 15))
    session.commit()
    result = monthly_report_flow.fn(as_of=sh(date(2026, 11, 20), 9), month="2026-09")
    assert result["changed"] is True and result["version"] == 2 and result["success_rate"] == 58.33  # 7 / 12
    row = _report(session, "2026-09")
    assert row is not None and row.version == 2 and row.figures["hq_successes"] == 6
    events = session.execute(
        select(AuditEntry.event, AuditEntry.version).where(AuditEntry.case_kind == "report").order_by(AuditEntry.version)
    ).all()
    session.rollback()
    assert [tuple(e) for e in events] == [("produced", 1), ("reproduced", 2)]
    assert _counts(session)[1] == before[1]  # the warnings were not sent twice


def test_explicit_month_must_have_ended(session: Session) -> None:
    with pytest.raises(ValueError, match="has not ended"):
        monthly_report_flow.fn(as_of=sh(date(2026, 9, 30), 23), month="2026-09")
    with pytest.raises(ValueError, match="YYYY-MM"):
        monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7), month="2026-9")


def test_annual_report_comes_with_december(session: Session) -> None:
    build_september(session)
    december = revisit(session, branch="SH01", channel="agency", agent="A1", ends=date(2026, 12, 8),
                       state="closed_success", cls="standard", closed_by="close", closed_at=sh(date(2026, 12, 5)))
    assert december.id
    session.commit()
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))  # September's: warns A2 and B1
    # November's report produces no annual one
    assert monthly_report_flow.fn(as_of=sh(date(2026, 12, 1), 7))["annual"] is None
    result = monthly_report_flow.fn(as_of=sh(date(2027, 1, 5), 9), month="2026-12")
    assert result["annual"] == "2026"
    annual = _report(session, "2026")
    assert annual is not None and annual.kind == "annual"
    f = annual.figures
    # January–December: September's 11 (c15 was cancelled in October, inside the year) + x_august + x_october +
    # December's; HQ adds x_august's and December's closes, and c6's letter success of 10-03 now falls inside
    # the period: (7 + 2) / 14 = 64.2857…
    assert (f["period_start"], f["period_end"]) == ("2026-01-01", "2026-12-31")
    assert (f["required"], f["hq_successes"], f["branch_successes"], f["success_rate"]) == (14, 7, 2, 64.29)
    assert [p["month"] for p in f["work_orders"]["trend"]][0] == "2026-01" and len(f["work_orders"]["trend"]) == 12
    assert f["work_orders"]["due"] == 10  # 7 in September, 1 in July, 1 in August, 1 in October
    assert f["agent_warnings"] == {"issued": 2, "agents": ["A2", "B1"], "investigations": []}  # September's


@pytest.mark.postgres
def test_same_figures_on_postgresql(pg_session: Session) -> None:
    build_september(pg_session)
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    row = _report(pg_session, "2026-09")
    assert row is not None and row.figures == EXPECTED


def test_successes_within_cooling_off_after_the_due_month_count_in_the_month_the_period_ends(session: Session) -> None:
    """Five cases due Tue 09-29 (receipt signed 09-27: cooling-off ends 10-12) all succeed on 10-08 (the first
    working day after National Day), inside the period. They are October's cohort, counted on the first working
    day of November: 5 / 5; September has none of them. The cohort's boundary: a period ending on 10-31 is
    October's, one ending on 11-01 is not."""
    from domain.revisits import record_attempt
    from tests.domain.test_attempts import answers, ctx

    ids = []
    for _ in range(5):
        p = make_policy(session, receipt_signed_date=date(2026, 9, 27), agent_code="A0001")
        ids.append(make_revisit(session, policy=p, state="calling", due_date=date(2026, 9, 29),
                                cooling_off_end=date(2026, 10, 12)).id)
    last = revisit(session, branch="SH01", channel="agency", agent="A0001", ends=date(2026, 10, 31),
                   state="closed_success", cls="standard", closed_by="close", closed_at=sh(date(2026, 10, 30)))
    revisit(session, branch="SH01", channel="agency", agent="A0001", ends=date(2026, 11, 1), state="calling")
    session.commit()
    for case_id in ids:
        version = session.get(RevisitCase, case_id).version
        record_attempt(session, case_id=case_id, outcome="connected", answers=answers(), details=None,
                       appointment_at=None, expected_version=version, ctx=ctx(sh(date(2026, 10, 8), 10)))
    assert {session.get(RevisitCase, i).state for i in ids} == {"closed_success"}
    session.rollback()

    september = monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    assert september["month"] == "2026-09" and september["success_rate"] is None  # nothing required
    october = monthly_report_flow.fn(as_of=sh(date(2026, 11, 2), 7))  # Monday: the first working day
    assert october["month"] == "2026-10"
    f = _report(session, "2026-10").figures  # type: ignore[union-attr]
    assert (f["required"], f["hq_successes"], f["success_rate"]) == (6, 6, 100.0)
    assert (f["within_cooling_off"], f["late"]) == (6, 0)
    assert last.id
    # the agent is judged on the same cohort: 6 / 6, no warning for September or October
    assert session.execute(select(OutboxMessage).where(OutboxMessage.template == "agent_warning")).first() is None
    session.rollback()
