"""GET /reports/monthly (SPEC §4.1 shape), the HTML report and the quality lists over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from core.settings import get_settings
from core.users import add_user
from domain.penalties import record_proxy_signature_penalties
from domain.revisits import Ctx
from flows.reports import monthly_report_flow
from tests.api.test_revisits_api import assert_problem
from tests.domain.test_agent_quality import CAL
from tests.domain.test_reports import EXPECTED, build_september, sh
from tests.factories import T0, make_agent, make_revisit

SHAPE = {"month", "produced_at", "required", "hq_successes", "branch_successes", "success_rate",
         "within_cooling_off", "late", "by_branch", "by_channel", "classes", "work_orders", "complaints"}


@pytest.fixture
def client(engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def auth(session: Session):  # type: ignore[no-untyped-def]
    seq = itertools.count(1)

    def make(role: str, branch: str | None = None) -> dict[str, str]:
        _, token = add_user(session=session, name=f"{role}-{next(seq)}", role=role, branch=branch, now=T0)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


def test_monthly_report_404_until_produced_then_the_contract_shape(session: Session, client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    build_september(session)
    manager = auth("manager")
    assert_problem(client.get("/reports/monthly", params={"month": "2026-09"}, headers=manager), 404, "not-found")
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    resp = client.get("/reports/monthly", params={"month": "2026-09"}, headers=manager)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert SHAPE <= set(body)
    assert body["produced_at"] == "2026-10-07T23:00:00+00:00"
    assert {k: body[k] for k in EXPECTED} == EXPECTED
    assert isinstance(body["by_branch"], list) and isinstance(body["classes"], dict)

    html = client.get("/reports/monthly/2026-09.html", headers=auth("auditor"))
    assert html.status_code == 200 and 'id="chart-success-by-branch"' in html.text
    assert_problem(client.get("/reports/monthly/2026-08.html", headers=manager), 404)


@pytest.mark.parametrize("month", ["2026-9", "2026-13", "september", ""])
def test_bad_month_is_422(client: TestClient, auth, month: str) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/reports/monthly", params={"month": month}, headers=auth("supervisor")), 422)


def test_reports_are_for_supervisors_managers_auditors(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    for role in ("call_agent", "branch_staff", "complaint_handler"):
        resp = client.get("/reports/monthly", params={"month": "2026-09"}, headers=auth(role, "SH01"))
        assert_problem(resp, 403)
        assert_problem(client.get("/quality/agents", params={"month": "2026-09"}, headers=auth(role, "SH01")), 403)
    assert_problem(client.get("/reports/monthly", params={"month": "2026-09"}), 401)


def test_quality_lists(session: Session, client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    build_september(session)
    monthly_report_flow.fn(as_of=sh(date(2026, 10, 8), 7))
    make_agent(session, code="AGONE", supervisor_code="S09", manager_code="M09", active=False)
    case = make_revisit(session, state="problem", agent_code="AGONE")
    session.commit()
    ctx = Ctx(now=sh(date(2026, 9, 29), 10), actor="test", settings=get_settings(), calendar=CAL)
    record_proxy_signature_penalties(session, ctx=ctx, case=case, case_kind="revisit")
    session.commit()
    headers = auth("supervisor")

    agents = client.get("/quality/agents", params={"month": "2026-09"}, headers=headers).json()
    assert agents["total"] == 3 and agents["threshold"] == 80.0
    assert [(i["agent_code"], i["success_rate"], i["warned"]) for i in agents["items"]] == [
        ("A2", 0.0, True), ("B1", 20.0, True), ("A1", 100.0, False),
    ]
    below = client.get("/quality/agents", params={"month": "2026-09", "below": "true"}, headers=headers).json()
    assert below["total"] == 2

    penalties = client.get("/quality/penalties", params={"month": "2026-09"}, headers=headers).json()
    assert penalties["total"] == 2 and penalties["total_cny"] == 1000
    assert {(i["role"], i["person_code"], i["amount_cny"], i["rule_case"]) for i in penalties["items"]} == {
        ("supervisor", "S09", 500, "agent_departed"), ("manager", "M09", 500, "agent_departed"),
    }
    assert client.get("/quality/penalties", params={"month": "2026-10"}, headers=headers).json()["total"] == 0
    assert_problem(client.get("/quality/penalties", params={"month": "10/2026"}, headers=headers), 422)


def test_penalties_show_the_commission_held_only_after_the_re_signing_deadline(
    session: Session, client: TestClient, auth, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """SPEC §2.10: confirmed Tue 09-29, re-signing due at the end of Mon 10-12 (National Day, make-up Saturday
    10-10); /quality/penalties shows no hold inside the window, the hold from the next instant."""
    from datetime import timedelta

    from core import clock
    from core.clock import end_of_day

    make_agent(session, code="A7", supervisor_code="S7", manager_code="M7")
    case = make_revisit(session, state="problem", agent_code="A7")
    session.commit()
    ctx = Ctx(now=sh(date(2026, 9, 29), 10), actor="test", settings=get_settings(), calendar=CAL)
    record_proxy_signature_penalties(session, ctx=ctx, case=case, case_kind="revisit")
    session.commit()
    headers = auth("supervisor")
    deadline = end_of_day(date(2026, 10, 12))

    def held_at(moment):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(clock, "now", lambda: moment)
        items = client.get("/quality/penalties", params={"month": "2026-09"}, headers=headers).json()["items"]
        assert len(items) == 3 and items[0]["resign_due_at"] == deadline.isoformat()
        return {(i["commission_held"], i["statement_due"]) for i in items}

    assert held_at(sh(date(2026, 9, 29), 11)) == {(False, False)}
    assert held_at(deadline) == {(False, False)}
    assert held_at(deadline + timedelta(microseconds=1)) == {(True, True)}


def test_annual_report_after_december(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("auditor")
    assert_problem(client.get("/reports/annual", params={"year": 2025}, headers=headers), 404)
    monthly_report_flow.fn(as_of=sh(date(2026, 1, 4), 7))  # first working day of 2026: December 2025 and the year
    body = client.get("/reports/annual", params={"year": 2025}, headers=headers).json()
    assert (body["month"], body["kind"], body["period_start"], body["period_end"]) == (
        "2025", "annual", "2025-01-01", "2025-12-31",
    )
    assert body["required"] == 0 and body["success_rate"] is None  # nothing required: no rate, not 0 %
    assert client.get("/reports/monthly", params={"month": "2025-12"}, headers=headers).json()["kind"] == "monthly"
