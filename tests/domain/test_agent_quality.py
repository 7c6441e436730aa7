"""Agent quality (SPEC §2.10): the 80 % warning threshold and the three-months-running investigation rule."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.settings import get_settings
from domain.agent_quality import assess_agents
from domain.revisits import Ctx
from models import AgentMonth, OutboxMessage
from tests.domain.test_reports import revisit, sh

CAL = WorkdayCalendar.from_chinese_calendar()


def ctx(day: date) -> Ctx:
    return Ctx(now=sh(day, 7), actor="flow:monthly-report", settings=get_settings(), calendar=CAL)


def month_of(session: Session, agent: str, year: int, month: int, *, required: int, hq: int,
             branch_success: int = 0) -> None:
    """``required`` revisits whose cooling-off ends on the 10th: ``hq`` closed that day by HQ's phone,
    ``branch_success`` by a letter."""
    due = date(year, month, 10)
    for i in range(required):
        if i < hq:
            revisit(session, branch="SH01", channel="agency", agent=agent, ends=due, state="closed_success",
                    cls="standard", closed_by="close", closed_at=sh(due))
        elif i < hq + branch_success:
            revisit(session, branch="SH01", channel="agency", agent=agent, ends=due, state="closed_success",
                    cls="verification", closed_by="letter_or_onsite_success", closed_at=sh(due))
        else:
            revisit(session, branch="SH01", channel="agency", agent=agent, ends=due, state="verification",
                    cls="verification")


def rows(session: Session, month: str) -> dict[str, AgentMonth]:
    found = {r.agent_code: r for r in session.execute(select(AgentMonth).where(AgentMonth.month == month)).scalars()}
    return found


def test_threshold_boundary_and_phone_successes_only(session: Session) -> None:
    month_of(session, "AT80", 2026, 9, required=5, hq=4)  # exactly 80 %: not below
    month_of(session, "A75", 2026, 9, required=4, hq=3)  # 75 %: below
    month_of(session, "ALETTER", 2026, 9, required=4, hq=3, branch_success=1)  # letter success is not phone
    month_of(session, "A3of7", 2026, 9, required=7, hq=5)  # 71.43
    session.commit()
    result = assess_agents(session, first=date(2026, 9, 1), ctx=ctx(date(2026, 10, 8)))
    session.commit()
    assert result["warned"] == ["A3of7", "A75", "ALETTER"]
    got = rows(session, "2026-09")
    assert (got["AT80"].success_rate, got["AT80"].below_threshold, got["AT80"].warned) == (80.0, False, False)
    assert (got["A75"].success_rate, got["A75"].warned, got["A75"].months_running) == (75.0, True, 1)
    assert (got["ALETTER"].hq_successes, got["ALETTER"].success_rate) == (3, 75.0)
    assert got["A3of7"].success_rate == 71.43
    messages = session.execute(select(OutboxMessage.dedupe_key)).scalars().all()
    assert sorted(messages) == ["agent_warning:A3of7:2026-09", "agent_warning:A75:2026-09", "agent_warning:ALETTER:2026-09"]


def test_rate_just_below_threshold_rounds_up_but_still_warns() -> None:
    # 3999 / 4999 = 79.9959… % → shown 80.00, but below 80: decided on the fraction, not the rounded figure
    from domain.agent_quality import _below
    from domain.reports import rate

    assert rate(3999, 4999, get_settings()) == 80.0 and _below(4999, 3999, 80.0) is True
    assert _below(5, 4, 80.0) is False


def test_three_months_running_flags_an_investigation_and_a_gap_breaks_the_run(session: Session) -> None:
    # ARUN: below in July, August and September → investigation in September
    for month in (7, 8, 9):
        month_of(session, "ARUN", 2026, month, required=2, hq=1)
    # AGAP: below in July and September, no revisits at all in August → the run is broken
    month_of(session, "AGAP", 2026, 7, required=2, hq=0)
    month_of(session, "AGAP", 2026, 9, required=2, hq=0)
    # AUP: below in July and September, above in August
    month_of(session, "AUP", 2026, 7, required=2, hq=0)
    month_of(session, "AUP", 2026, 8, required=2, hq=2)
    month_of(session, "AUP", 2026, 9, required=2, hq=0)
    # ATWO: below only in August and September
    month_of(session, "ATWO", 2026, 8, required=2, hq=0)
    month_of(session, "ATWO", 2026, 9, required=2, hq=0)
    session.commit()
    result = assess_agents(session, first=date(2026, 9, 1), ctx=ctx(date(2026, 10, 8)))
    session.commit()
    assert result["investigations"] == ["ARUN"]
    got = rows(session, "2026-09")
    assert {code: (r.months_running, r.investigation) for code, r in got.items()} == {
        "ARUN": (3, True), "AGAP": (1, False), "AUP": (1, False), "ATWO": (2, False),
    }
    # the run is read from the data, not from earlier runs: August alone shows ARUN at two months
    assess_agents(session, first=date(2026, 8, 1), ctx=ctx(date(2026, 9, 1)))
    session.commit()
    august = rows(session, "2026-08")
    assert (august["ARUN"].months_running, august["ARUN"].investigation) == (2, False)
    assert "AGAP" not in august  # no revisits, no rate, no row


def test_reassessing_changes_nothing(session: Session) -> None:
    month_of(session, "A75", 2026, 9, required=4, hq=3)
    session.commit()
    first = assess_agents(session, first=date(2026, 9, 1), ctx=ctx(date(2026, 10, 8)))
    session.commit()
    row = rows(session, "2026-09")["A75"]
    stamp = row.computed_at
    second = assess_agents(session, first=date(2026, 9, 1), ctx=ctx(date(2026, 10, 9)))
    session.commit()
    assert first["warnings_queued"] == 1 and second["warnings_queued"] == 0
    session.expire_all()
    assert rows(session, "2026-09")["A75"].computed_at == stamp
