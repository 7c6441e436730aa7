"""One policy of each class driven end to end: ``POST /policies`` → intake (the flows' bodies, called
directly) → call attempts → branch work orders → closure, then the audit trail over HTTP.

Every policy here: receipt signed Fri 2026-10-09, entered Sat 10-10 (a make-up working day) → due Sun
10-11; cooling-off 15 days → Sat 10-24 → runs to Mon 10-26. Intake runs Mon 10-12 06:00 Asia/Shanghai.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.settings import get_settings
from domain.intake import intake_new_contracts
from domain.revisits import Ctx
from domain.timers import open_due_cases, release_due_callbacks
from tests.api.test_revisits_api import ALL_YES, DAY, auth, client, clock, sh  # noqa: F401  (fixtures)
from tests.factories import policy_payload

CAL = WorkdayCalendar.from_chinese_calendar()
D2, D3, D4 = DAY + timedelta(days=1), DAY + timedelta(days=2), DAY + timedelta(days=3)


def flow_ctx(day: date, hh: int, mm: int = 0, name: str = "intake-new-contracts") -> Ctx:
    return Ctx(now=sh(day, hh, mm), actor=f"flow:{name}", settings=get_settings(), calendar=CAL)


class Desk:
    """The people at work: an HQ call agent, SH01 branch staff, a supervisor."""

    def __init__(self, client: TestClient, auth: Any) -> None:
        self.client = client
        self.agent = auth("call_agent")
        self.branch = auth("branch_staff", "SH01")
        self.supervisor = auth("supervisor")

    def revisit(self, case_id: int) -> dict[str, Any]:
        resp = self.client.get(f"/revisits/{case_id}", headers=self.supervisor)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def attempt(self, case_id: int, outcome: str, **extra: Any) -> dict[str, Any]:
        version = self.revisit(case_id)["version"]
        resp = self.client.post(
            f"/revisits/{case_id}/attempts",
            json={"outcome": outcome, "expected_version": version, **extra},
            headers=self.agent,
        )
        assert resp.status_code == 201, resp.text
        return resp.json()

    def event(self, case_id: int, event: str, headers: dict[str, str] | None = None, **payload: Any) -> dict[str, Any]:
        version = self.revisit(case_id)["version"]
        resp = self.client.post(
            f"/revisits/{case_id}/events/{event}",
            json={"expected_version": version, **payload},
            headers=headers or self.agent,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def open_order(self, case_id: int, kind: str) -> dict[str, Any]:
        resp = self.client.get(f"/work-orders?case_id={case_id}&kind={kind}&state=open", headers=self.branch)
        assert resp.status_code == 200, resp.text
        [order] = resp.json()["items"]
        return order

    def order_event(self, order: dict[str, Any], event: str, headers: dict[str, str], **payload: Any) -> dict[str, Any]:
        current = self.client.get(f"/work-orders/{order['id']}", headers=headers).json()
        resp = self.client.post(
            f"/work-orders/{order['id']}/events/{event}",
            json={"expected_version": current["version"], **payload},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def branch_completes(self, order: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Branch staff start and submit the order; HQ accepts it."""
        self.order_event(order, "start", self.branch)
        self.order_event(order, "submit", self.branch, result=result)
        return self.order_event(order, "accept", self.agent)

    def history(self, kind: str, case_id: int) -> list[dict[str, Any]]:
        resp = self.client.get(f"/cases/{kind}/{case_id}/history", headers=self.supervisor)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]


@pytest.fixture
def desk(client: TestClient, auth: Any) -> Desk:  # noqa: F811
    return Desk(client, auth)


def imported_case(desk: Desk, session: Session, **over: Any) -> int:
    """Import one policy over HTTP, run intake and the queue opening for Mon 10-12 06:00; the case id."""
    payload = policy_payload(receipt_signed_date="2026-10-09", receipt_entered_date="2026-10-10", **over)
    with clock(DAY, 5, 30):
        resp = desk.client.post("/policies", json=[payload], headers=desk.supervisor)
    assert resp.status_code == 201, resp.text
    assert resp.json()["created"] == 1

    result = intake_new_contracts(session, ctx=flow_ctx(DAY, 6))
    assert result.created == 1
    assert open_due_cases(session, ctx=flow_ctx(DAY, 6, name="callback-dispatch")) == 1
    # a second run for the same moment changes nothing
    assert intake_new_contracts(session, ctx=flow_ctx(DAY, 6)).created == 0
    assert open_due_cases(session, ctx=flow_ctx(DAY, 6, name="callback-dispatch")) == 0
    session.commit()

    found = desk.client.get(f"/revisits?policy_no={payload['policy_no']}", headers=desk.supervisor).json()
    [case] = found["items"]
    assert (case["state"], case["due_date"], case["cooling_off_end"]) == ("calling", "2026-10-11", "2026-10-26")
    return case["id"]


def assert_trail(items: list[dict[str, Any]], expected: list[tuple[str, str, str]]) -> None:
    """The trail is exactly these transitions, in order, chained state to state, versions 1, 2, 3, …"""
    assert [(i["event"], i["source"], i["target"]) for i in items] == expected
    assert [i["version"] for i in items] == list(range(1, len(items) + 1))
    for before, after in zip(items, items[1:]):
        assert after["source"] == before["target"]
        assert after["at"] >= before["at"]
    assert all(i["actor"] for i in items)


def test_standard(desk: Desk, session: Session) -> None:
    case_id = imported_case(desk, session)
    with clock(DAY, 10):
        queued = desk.client.get("/queue/next", headers=desk.agent)
        assert queued.status_code == 200 and queued.json()["item"]["id"] == case_id
        done = desk.attempt(case_id, "connected", answers=ALL_YES)
    assert (done["state"], done["classification"], done["late"]) == ("closed_success", "standard", False)
    assert done["work_orders"] == [] and done["allowed_events"] == []

    trail = desk.history("revisit", case_id)
    assert_trail(trail, [
        ("created", "", "scheduled"),
        ("open_calls", "scheduled", "calling"),
        ("classify_standard", "calling", "standard"),
        ("close", "standard", "closed_success"),
    ])
    assert trail[0]["actor"] == "flow:intake-new-contracts" and trail[2]["actor"].startswith("user:call_agent")


def test_substandard(desk: Desk, session: Session) -> None:
    case_id = imported_case(desk, session)
    with clock(DAY, 10):
        after = desk.attempt(case_id, "connected", answers={**ALL_YES, "returns_uncertain_known": "corrected"})
    assert (after["state"], after["sub_types"]) == ("substandard", ["unclear_returns"])
    with clock(D2, 15):
        order = desk.open_order(case_id, "substandard_remark")
        assert order["due_at"] == "2026-10-15T15:59:59.999999Z"
        accepted = desk.branch_completes(order, {"remark": "agent retrained on non-guaranteed bonuses"})
    assert accepted["state"] == "accepted"
    final = desk.revisit(case_id)
    assert (final["state"], final["classification"]) == ("closed_success", "substandard")

    assert_trail(desk.history("revisit", case_id), [
        ("created", "", "scheduled"),
        ("open_calls", "scheduled", "calling"),
        ("classify_substandard", "calling", "substandard"),
        ("remark_recorded", "substandard", "closed_success"),
    ])
    assert_trail(desk.history("work_order", order["id"]), [
        ("created", "", "open"),
        ("start", "open", "in_progress"),
        ("submit", "in_progress", "submitted"),
        ("accept", "submitted", "accepted"),
    ])


def test_problem_through_the_follow_up_call(desk: Desk, session: Session) -> None:
    case_id = imported_case(desk, session)
    with clock(DAY, 10):
        after = desk.attempt(case_id, "connected", answers={**ALL_YES, "surrender_loss_known": "no"})
    assert (after["state"], after["problem_category"]) == ("problem", "misleading_suspected")
    with clock(D2, 16):
        desk.branch_completes(desk.open_order(case_id, "problem"), {"explanation": "agent explained the surrender loss"})
        assert desk.revisit(case_id)["allowed_events"] == [
            "confirm_misleading", "follow_up_not_understood", "follow_up_understood"
        ]
    with clock(D3, 10):
        done = desk.event(case_id, "follow_up_understood")
    assert (done["state"], done["classification"]) == ("closed_success", "problem")

    assert_trail(desk.history("revisit", case_id), [
        ("created", "", "scheduled"),
        ("open_calls", "scheduled", "calling"),
        ("classify_problem", "calling", "problem"),
        ("explanation_recorded", "problem", "follow_up_call"),
        ("follow_up_understood", "follow_up_call", "closed_success"),
    ])


def test_verification_branch_fixes_the_phone_and_hq_calls_again(desk: Desk, session: Session) -> None:
    case_id = imported_case(desk, session)
    with clock(DAY, 10):
        after = desk.attempt(case_id, "wrong_number")
    assert (after["state"], after["verification_reason"]) == ("verification", "wrong_number")
    with clock(D2, 11):
        desk.branch_completes(desk.open_order(case_id, "verification"), {"phone": "13911112222"})
        assert desk.revisit(case_id)["state"] == "recall"
    policy_no = desk.revisit(case_id)["policy_no"]
    policy = desk.client.get(f"/policies/{policy_no}", headers=desk.supervisor).json()
    assert policy["policyholder"]["phone"] == "13911112222"

    assert release_due_callbacks(session, ctx=flow_ctx(D2, 11, 5, "callback-dispatch"))["recall_due"] == 1
    with clock(D2, 11, 10):
        assert desk.client.get("/queue/next", headers=desk.agent).json()["item"]["id"] == case_id
        done = desk.attempt(case_id, "connected", answers=ALL_YES)
    assert (done["state"], done["classification"]) == ("closed_success", "standard")

    assert_trail(desk.history("revisit", case_id), [
        ("created", "", "scheduled"),
        ("open_calls", "scheduled", "calling"),
        ("classify_verification", "calling", "verification"),
        ("contact_fixed", "verification", "recall"),
        ("recall_due", "recall", "calling"),
        ("classify_standard", "calling", "standard"),
        ("close", "standard", "closed_success"),
    ])


def _six_no_answers(desk: Desk, case_id: int, day1: date, hour1: int) -> dict[str, Any]:
    """The attempt budget: three a day, two hours apart, over two days."""
    day2 = day1 + timedelta(days=1)
    for day, hh in [(day1, hour1), (day1, hour1 + 2), (day1, hour1 + 4), (day2, 9), (day2, 11), (day2, 13)]:
        with clock(day, hh):
            after = desk.attempt(case_id, "no_answer")
    return after


def test_the_whole_ladder_to_closed_failed(desk: Desk, session: Session) -> None:
    case_id = imported_case(desk, session)

    # HQ phone: six attempts, no answer → verification (unreachable)
    after = _six_no_answers(desk, case_id, DAY, 10)
    assert (after["state"], after["verification_reason"]) == ("verification", "unreachable")

    # the branch verifies the contact; HQ accepts; the re-call is released into the queue
    with clock(D3, 10):
        order = desk.open_order(case_id, "verification")
        assert order["due_at"] == "2026-10-16T15:59:59.999999Z"  # 3 working days after Tue 10-13
        desk.branch_completes(order, {"phone": "13922223333", "note": "number confirmed with the agent"})
    release_due_callbacks(session, ctx=flow_ctx(D3, 10, 1, "callback-dispatch"))
    assert desk.revisit(case_id)["state"] == "calling"

    # HQ phone again: six more attempts → no second verification: letter / on-site by the branch
    after = _six_no_answers(desk, case_id, D3, 11)
    assert after["state"] == "letter_or_onsite"
    assert after["allowed_events"] == ["cancel", "close_failed", "letter_or_onsite_success"]
    kinds = [(o["kind"], o["state"]) for o in after["work_orders"]]
    assert kinds == [("verification", "accepted"), ("failed_followup", "open")]
    failed_followup = desk.open_order(case_id, "failed_followup")
    assert failed_followup["due_at"] == "2026-10-16T15:59:59.999999Z"  # 1 working day after Thu 10-15

    with clock(D4, 9, 30):
        desk.branch_completes(failed_followup, {"letter_sent": "2026-10-16", "onsite_visit_planned": "2026-10-19"})

    # every way failed: closed as failed, with the reasons
    with clock(date(2026, 10, 23), 17):
        refused = desk.client.post(
            f"/revisits/{case_id}/events/close_failed",
            json={"expected_version": desk.revisit(case_id)["version"]},
            headers=desk.branch,
        )
        assert refused.status_code == 422 and "reasons" in refused.json()["detail"]
        reasons = ["no answer on the verified number (12 attempts)", "letter not returned", "not at home on 10-19"]
        closed = desk.event(case_id, "close_failed", headers=desk.branch, reasons=reasons)
    assert closed["state"] == "closed_failed" and closed["failure_reasons"] == reasons
    assert closed["allowed_events"] == []

    failed_once = [("attempt_failed", "calling", "calling")] * 6
    trail = desk.history("revisit", case_id)
    assert_trail(trail, [
        ("created", "", "scheduled"),
        ("open_calls", "scheduled", "calling"),
        *failed_once,
        ("attempt_window_expired", "calling", "verification"),
        ("contact_fixed", "verification", "recall"),
        ("recall_due", "recall", "calling"),
        *failed_once,
        ("attempt_window_expired", "calling", "verification"),
        ("escalate_to_letter", "verification", "letter_or_onsite"),
        ("close_failed", "letter_or_onsite", "closed_failed"),
    ])
    assert trail[-1]["payload"]["reasons"] == reasons
    assert trail[-1]["actor"].startswith("user:branch_staff")
