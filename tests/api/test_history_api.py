"""GET /cases/{kind}/{id}/history: who may read which trail (complaints: the complaint desk; care touches:
the branch scoping of their claim revisit)."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import Session

from core.settings import get_settings
from domain.complaints import open_complaint
from domain.revisits import Ctx
from models import AuditEntry, CareTouch
from tests.api.test_revisits_api import assert_problem, auth, client, sh  # noqa: F401
from tests.domain.test_agent_quality import CAL
from tests.factories import make_revisit


def a_complaint(session: Session) -> int:
    ctx = Ctx(now=sh(date(2026, 9, 29), 10), actor="user:alice", settings=get_settings(), calendar=CAL)
    c = open_complaint(session, ctx=ctx, source="customer", channel="hotline", complainant_name="张丽",
                       complainant_phone="13800000000", content="业务员误导销售", category="sales")
    session.commit()
    return c.id


def test_complaint_history_is_for_the_complaint_desk_only(session: Session, client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    cid = a_complaint(session)
    url = f"/cases/complaint/{cid}/history"
    for role in ("branch_staff", "call_agent"):
        assert_problem(client.get(url, headers=auth(role, "SH01")), 403)
    for role in ("complaint_handler", "supervisor", "manager", "auditor", "admin"):
        resp = client.get(url, headers=auth(role))
        assert resp.status_code == 200, (role, resp.text)
        assert [h["event"] for h in resp.json()["items"]] == ["opened"]


def test_care_touch_history_follows_its_claim_revisits_branch(session: Session, client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    revisit = make_revisit(session, kind="claim", claim_no="C1", branch_code="SH01")
    touch = CareTouch(revisit_case_id=revisit.id, claim_no="C1", kind="day0", due_date=date(2026, 9, 29),
                      due_at=sh(date(2026, 9, 29), 9))
    session.add(touch)
    session.flush()
    session.add(AuditEntry(case_kind="care_touch", case_id=touch.id, version=2, event="record", source="scheduled",
                           target="done", actor="user:bob", at=sh(date(2026, 9, 29), 11), payload={"satisfaction": 2}))
    session.commit()
    url = f"/cases/care_touch/{touch.id}/history"
    assert_problem(client.get(url, headers=auth("branch_staff", "BJ01")), 403)
    for headers in (auth("branch_staff", "SH01"), auth("supervisor")):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        assert [h["payload"] for h in resp.json()["items"]] == [{"satisfaction": 2}]
