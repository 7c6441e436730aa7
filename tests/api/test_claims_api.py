"""Claims over HTTP (SPEC §2.11, §4.1): ``POST /claims``, ``GET /claims/{no}``, claim revisits in
``GET /revisits``, their call attempts, care touches and post-claim problems — and one closed claim
driven end to end: import → claims-revisit-intake → callback-dispatch → call → closed, three touches.

The claim closes on Tue 2026-09-29; its revisit is due by the end of Mon 10-12 (09-30, 10-08, 10-09, the
make-up Saturday 10-10, 10-12); touches on 09-29, 10-06 and 10-29.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from flows.callbacks import callback_dispatch_flow
from flows.claims import claims_revisit_intake_flow
from models import Complaint, OutboxMessage, RevisitCase, WorkOrder
from tests.api.test_revisits_api import assert_problem, auth, client, clock, db_count, sh  # noqa: F401  (fixtures)
from tests.factories import claim_payload, make_revisit, policy_payload

CLOSED = date(2026, 9, 29)
GOOD = {"identity": "yes", "service_satisfaction": 5, "liability_clear": "yes", "staff_attitude": "good"}


def _setup(client: TestClient, auth: Any, **claim: Any) -> tuple[dict[str, str], dict[str, str], str]:
    """A policy and a closed claim imported over HTTP, the intake run for 09-30 06:30, the queue opened."""
    admin, agent = auth("admin"), auth("call_agent")
    policy = policy_payload()
    assert client.post("/policies", json=policy, headers=admin).status_code == 201
    body = claim_payload(policy["policy_no"], **claim)
    resp = client.post("/claims", json=[body], headers=admin)
    assert resp.status_code == 201 and resp.json()["created"] == 1, resp.text
    claims_revisit_intake_flow.fn(as_of=sh(date(2026, 9, 30), 6, 30))
    return admin, agent, body["claim_no"]


def _revisit(client: TestClient, headers: dict[str, str], claim_no: str) -> dict[str, Any]:
    resp = client.get(f"/revisits?claim_no={claim_no}", headers=headers)
    assert resp.status_code == 200, resp.text
    [item] = resp.json()["items"]
    full = client.get(f"/revisits/{item['id']}", headers=headers)
    assert full.status_code == 200, full.text
    return full.json()


def _touch(client: TestClient, headers: dict[str, str], case: dict[str, Any], kind: str, **body: Any) -> Any:
    [touch] = [t for t in case["care_touches"] if t["kind"] == kind]
    payload = {"outcome": "done", "channel": "phone", "expected_version": touch["version"], **body}
    return client.post(f"/revisits/{case['id']}/care-touches/{kind}", json=payload, headers=headers)


def test_closed_claim_end_to_end(client: TestClient, auth: Any, session: Session) -> None:
    admin, agent, claim_no = _setup(client, auth)
    supervisor = auth("supervisor")

    case = _revisit(client, supervisor, claim_no)
    assert (case["kind"], case["claim_no"], case["state"]) == ("claim", claim_no, "scheduled")
    assert case["revisit_due_by"] == "2026-10-12T15:59:59.999999Z"
    assert case["cooling_off_end"] is None and case["due_date"] == "2026-09-30"
    assert [(t["kind"], t["due_date"], t["state"]) for t in case["care_touches"]] == [
        ("day0", "2026-09-29", "scheduled"), ("week1", "2026-10-06", "scheduled"), ("month1", "2026-10-29", "scheduled"),
    ]  # fmt: skip
    listed = client.get("/revisits?kind=claim", headers=supervisor).json()
    assert [i["id"] for i in listed["items"]] == [case["id"]]
    assert client.get("/revisits?kind=new_contract", headers=supervisor).json()["total"] == 0

    # callback-dispatch at 09:00 on 09-30 puts it in the call queue; the agent takes it and calls
    assert callback_dispatch_flow.fn(as_of=sh(date(2026, 9, 30), 9, 0))["open_calls"] == 1
    with clock(date(2026, 9, 30), 10):
        nxt = client.get("/queue/next", headers=agent)
        assert nxt.status_code == 200 and nxt.json()["item"]["id"] == case["id"], nxt.text
        resp = client.post(
            f"/revisits/{case['id']}/attempts",
            json={"outcome": "connected", "answers": GOOD, "details": {"suggestion": "SMS on payout"},
                  "expected_version": nxt.json()["item"]["version"]},
            headers=agent,
        )  # fmt: skip
    assert resp.status_code == 201, resp.text
    assert (resp.json()["state"], resp.json()["classification"]) == ("closed_success", "standard")

    # the three touches, each recorded on its day
    for kind, day, extra in (
        ("day0", date(2026, 9, 30), {"channel": "sms", "result": "care SMS acknowledged"}),
        ("week1", date(2026, 10, 6), {"satisfaction": 5, "result": "recovering well"}),
        ("month1", date(2026, 10, 29), {"satisfaction": 4}),
    ):
        with clock(day, 11):
            current = _revisit(client, supervisor, claim_no)
            resp = _touch(client, agent, current, kind, **extra)
            assert resp.status_code == 200, resp.text
            assert resp.json()["touch"]["state"] == "done"
    final = _revisit(client, supervisor, claim_no)
    assert final["state"] == "closed_success"
    assert [(t["kind"], t["state"], t["satisfaction"]) for t in final["care_touches"]] == [
        ("day0", "done", None), ("week1", "done", 5), ("month1", "done", 4),
    ]  # fmt: skip
    assert db_count(session, OutboxMessage, OutboxMessage.template == "claim_care") == 3

    assert client.get(f"/claims/{claim_no}", headers=auth("branch_staff", "SH01")).status_code == 200
    assert_problem(client.get(f"/claims/{claim_no}", headers=auth("branch_staff", "BJ01")), 403)
    claim = client.get(f"/claims/{claim_no}", headers=supervisor)
    assert claim.status_code == 200 and claim.json()["revisit_id"] == case["id"]
    assert claim.json()["amount"] == "12000.00" and claim.json()["state"] == "closed"


def test_problem_on_the_claim_call_opens_the_post_claim_complaint_not_a_work_order(client: TestClient, auth: Any, session: Session) -> None:
    _, agent, claim_no = _setup(client, auth)
    supervisor = auth("supervisor")
    callback_dispatch_flow.fn(as_of=sh(date(2026, 9, 30), 9, 0))
    case = _revisit(client, supervisor, claim_no)
    at = sh(date(2026, 9, 30), 14, 30)
    with clock(date(2026, 9, 30), 14, 30):
        resp = client.post(
            f"/revisits/{case['id']}/attempts",
            json={"outcome": "connected", "answers": {**GOOD, "service_satisfaction": "3"},
                  "details": {"problem": "the payout left out the second hospital stay"},
                  "expected_version": case["version"]},
            headers=agent,
        )  # fmt: skip
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["state"], body["problem_category"]) == ("problem", "claim_dissatisfied")
    assert body["problem_response_due_at"] == (at + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert body["problem_solution_due_at"] == (at + timedelta(hours=48)).isoformat().replace("+00:00", "Z")
    # one track (SPEC §2.11): the post-claim complaint is the follow-up, no branch problem order
    assert body["work_orders"] == []
    assert db_count(session, Complaint, Complaint.source == "post_claim", Complaint.revisit_case_id == case["id"]) == 1
    assert db_count(session, OutboxMessage, OutboxMessage.template == "revisit_escalation") == 1


def test_claim_call_with_bad_answers_changes_nothing(client: TestClient, auth: Any, session: Session) -> None:
    _, agent, claim_no = _setup(client, auth)
    callback_dispatch_flow.fn(as_of=sh(date(2026, 9, 30), 9, 0))
    case = _revisit(client, auth("supervisor"), claim_no)
    with clock(date(2026, 9, 30), 10):
        for answers in ({**GOOD, "service_satisfaction": 7}, {"identity": "yes"}, {**GOOD, "coverage_known": "yes"}):
            resp = client.post(f"/revisits/{case['id']}/attempts",
                               json={"outcome": "connected", "answers": answers, "expected_version": case["version"]},
                               headers=agent)  # fmt: skip
            assert_problem(resp, 422, "rejected")
        # an appointment after the revisit's last day (10-12) is refused
        late = {"outcome": "appointment", "appointment_at": "2026-10-13T10:00:00+08:00", "expected_version": case["version"]}
        assert_problem(client.post(f"/revisits/{case['id']}/attempts", json=late, headers=agent), 422, "rejected")
    assert db_count(session, WorkOrder) == 0
    assert db_count(session, RevisitCase, RevisitCase.version != 1) == 1  # only open_calls moved it


def test_care_touch_errors(client: TestClient, auth: Any, session: Session) -> None:
    admin, agent, claim_no = _setup(client, auth, amount="100001.00")
    case = _revisit(client, auth("supervisor"), claim_no)
    assert case["owner"] is None and case["flags"] == ["large_claim", "claim_adviser_missing"]
    assert case["care_touches"][0]["version"] == 1
    with clock(date(2026, 9, 30), 11):
        assert_problem(_touch(client, agent, case, "day0", satisfaction=0), 422)
        assert_problem(_touch(client, agent, case, "day0", channel="fax"), 422)
        assert_problem(_touch(client, agent, case, "day0", expected_version=5), 409, "stale-version")
        assert_problem(client.post(f"/revisits/{case['id']}/care-touches/year1",
                                   json={"outcome": "done", "channel": "sms", "expected_version": 1}, headers=agent),
                       422, "rejected")  # fmt: skip
        assert_problem(_touch(client, auth("branch_staff", "SH01"), case, "day0"), 403)
        headers = {**agent, "Idempotency-Key": "touch-1"}
        first = _touch(client, headers, case, "day0", problem="nobody told me about the deductible")
        assert first.status_code == 200, first.text
        touch = first.json()["touch"]
        assert touch["response_due_at"] == "2026-10-01T03:00:00Z" and touch["solution_due_at"] == "2026-10-02T03:00:00Z"
        replay = _touch(client, headers, case, "day0", problem="nobody told me about the deductible")
        assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
        assert_problem(_touch(client, agent, case, "day0", expected_version=2), 409, "event-not-allowed")
    # a new-contract revisit has no care touches, and its view keeps its shape
    new_contract = make_revisit(session)
    session.commit()
    assert_problem(client.post(f"/revisits/{new_contract.id}/care-touches/day0",
                               json={"outcome": "done", "channel": "sms", "expected_version": 1}, headers=agent), 404)  # fmt: skip
    view = client.get(f"/revisits/{new_contract.id}", headers=admin).json()
    assert view["kind"] == "new_contract" and view["claim_no"] is None
    assert not {"revisit_due_by", "care_touches", "owner"} & set(view)


def test_post_claims_validation_and_get(client: TestClient, auth: Any) -> None:
    admin = auth("admin")
    assert_problem(client.post("/claims", json=[], headers=admin), 422)
    bad = client.post("/claims", json=[{"claim_no": "X"}, claim_payload("P1", state="closed", closed_date=None)],
                      headers=admin)  # fmt: skip
    body = assert_problem(bad, 422, "invalid-claims")
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    ok = claim_payload("P1", claim_no="OK1")
    mixed = client.post("/claims", json=[ok, {"claim_no": "X"}], headers=admin)
    assert mixed.status_code == 201
    assert {k: mixed.json()[k] for k in ("created", "updated", "unchanged")} == {"created": 1, "updated": 0, "unchanged": 0}
    assert len(mixed.json()["rejected"]) == 1
    one = client.post("/claims", json=ok, headers=admin)  # one object, the same again
    assert one.status_code == 201 and one.json()["unchanged"] == 1
    assert_problem(client.post("/claims", json=[claim_payload("P1")], headers=auth("call_agent")), 403)
    assert_problem(client.get("/claims/NOPE", headers=admin), 404)
    seen = client.get("/claims/OK1", headers=auth("auditor")).json()
    assert seen["claimant"]["phone"].count("*") == 4 and seen["revisit_id"] is None
