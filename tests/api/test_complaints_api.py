"""The complaint API over HTTP (SPEC §4, §4.1), with the clock frozen: intake to closure, two reopenings to
the manager, errors as problem+json, filters, and the complaint handler's queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from core.users import add_user
from flows.complaints import complaint_sla_sweep_flow
from models import Complaint, OutboxMessage
from tests.api.test_revisits_api import assert_problem, clock, client, db_count, sh, z  # noqa: F401
from tests.factories import T0

MON = date(2026, 10, 12)
INTAKE = {"channel": "hotline", "complainant": {"name": "张丽", "phone": "13800000001"}, "policy_no": None,
          "content": "the agent promised returns", "category": "sales_misleading", "urgency": "normal"}
FINDINGS = {"findings": "returns were promised", "evidence": ["recording 17"], "root_cause": "people"}
PLAN = {"measures": ["refund", "retrain the agent"], "department": "service centre", "person": "alice",
        "deadline": "2026-10-20"}


@pytest.fixture
def as_user(session: Session) -> Any:
    """``as_user(name, role)`` → headers of a new user with that name."""

    def make(name: str, role: str) -> dict[str, str]:
        _, token = add_user(session=session, name=name, role=role, branch=None, now=T0)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def people(as_user: Any) -> Iterator[dict[str, dict[str, str]]]:
    yield {
        "alice": as_user("alice", "complaint_handler"),
        "bob": as_user("bob", "complaint_handler"),
        "sue": as_user("sue", "supervisor"),
        "max": as_user("max", "manager"),
        "agent": as_user("agent1", "call_agent"),
    }


def send(client: TestClient, headers: dict[str, str], cid: int, event: str, **payload: Any) -> dict[str, Any]:
    version = client.get(f"/complaints/{cid}", headers=headers).json()["version"]
    resp = client.post(f"/complaints/{cid}/events/{event}", json={"expected_version": version, **payload},
                       headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_one_complaint_from_intake_to_closure(client: TestClient, people: Any, session: Session) -> None:
    alice = people["alice"]
    with clock(MON, 10):
        resp = client.post("/complaints", json=INTAKE, headers={**alice, "Idempotency-Key": "k1"})
        again = client.post("/complaints", json=INTAKE, headers={**alice, "Idempotency-Key": "k1"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    for key in ("id", "state", "owner", "urgency", "received_at", "ack_due_at", "reply_due_at", "version",
                "allowed_events"):
        assert key in body, key
    assert (body["state"], body["owner"], body["urgency"], body["version"]) == ("received", "alice", "normal", 1)
    assert body["received_at"] == z(sh(MON, 10)) and body["ack_due_at"] == z(sh(MON, 10) + timedelta(hours=24))
    assert body["reply_due_at"] == "2026-10-27T15:59:59.999999Z"  # end of day 15, Asia/Shanghai
    assert "acknowledge" in body["allowed_events"] and "escalate" not in body["allowed_events"]
    assert again.json() == body and again.headers.get("Idempotent-Replayed") == "true"
    assert db_count(session, Complaint) == 1
    cid = body["id"]

    with clock(MON, 11):
        send(client, alice, cid, "acknowledge")
        send(client, alice, cid, "investigate")
        send(client, alice, cid, "record_progress", note="we are listening to the recording")
        send(client, alice, cid, "record_findings", **FINDINGS)
        send(client, alice, cid, "make_plan", **PLAN)
        send(client, alice, cid, "start_implementation")
        send(client, alice, cid, "record_progress", note="refund ordered")
        send(client, alice, cid, "respond", result="first premium refunded", satisfaction=4)
        send(client, alice, cid, "start_follow_up")
        done = send(client, alice, cid, "close", follow_up_result="satisfied on the follow-up call")
    assert (done["state"], done["satisfaction"], done["root_cause"], done["allowed_events"]) == (
        "closed", 4, "people", [])
    history = client.get(f"/cases/complaint/{cid}/history", headers=alice).json()["items"]
    assert [h["event"] for h in history] == [
        "opened", "acknowledge", "investigate", "record_progress", "record_findings", "make_plan",
        "start_implementation", "record_progress", "respond", "start_follow_up", "close"]
    assert history[-1]["target"] == "closed" and history[-1]["actor"] == "user:alice"
    templates = session.execute(select(OutboxMessage.template).where(OutboxMessage.case_id == cid)
                                .order_by(OutboxMessage.id)).scalars().all()
    session.commit()
    assert templates == ["complaint_ack", "complaint_progress", "complaint_progress", "complaint_result"]
    machine = client.get("/statemachines/complaint").json()
    assert "escalated" in [s["id"] for s in machine["states"]] and "mermaid" in machine


def test_two_reopenings_escalate_to_the_manager(client: TestClient, people: Any) -> None:
    alice, max_ = people["alice"], people["max"]
    with clock(MON, 10):
        cid = client.post("/complaints", json=INTAKE, headers=alice).json()["id"]
        send(client, alice, cid, "acknowledge")
        send(client, alice, cid, "investigate")
    for round_, day in enumerate((13, 14), start=1):
        with clock(date(2026, 10, day), 10):
            send(client, alice, cid, "record_findings", **FINDINGS)
            send(client, alice, cid, "make_plan", **PLAN)
            send(client, alice, cid, "start_implementation")
            send(client, alice, cid, "respond", result="refund offered", satisfaction=1)
            got = send(client, alice, cid, "reopen", reason="not enough")
        if round_ == 1:
            assert (got["state"], got["reopen_count"], got["escalated_to"]) == ("reopened", 1, None)
            with clock(date(2026, 10, day), 11):
                send(client, alice, cid, "investigate")
    assert (got["state"], got["reopen_count"], got["escalated_to"]) == ("escalated", 2, "manager:hq")
    assert got["allowed_events"] == sorted(got["allowed_events"]) and "take_over" in got["allowed_events"]
    with clock(date(2026, 10, 14), 12):
        version = got["version"]
        assert_problem(client.post(f"/complaints/{cid}/events/take_over",
                                   json={"expected_version": version, "note": "mine"}, headers=alice), 403)
        taken = send(client, max_, cid, "take_over", note="the manager calls the complainant")
    assert taken["state"] == "investigating"
    history = client.get(f"/cases/complaint/{cid}/history", headers=max_).json()["items"]
    assert [h["event"] for h in history][-3:] == ["reopen", "escalate", "take_over"]


def test_errors_are_problems_and_change_nothing(client: TestClient, people: Any, session: Session) -> None:
    alice, bob = people["alice"], people["bob"]
    assert_problem(client.post("/complaints", json={**INTAKE, "channel": "fax"}, headers=alice), 422)
    assert_problem(client.post("/complaints", json={**INTAKE, "urgency": "soon"}, headers=alice), 422)
    assert_problem(client.post("/complaints", json=INTAKE, headers=people["agent"]), 403)
    assert db_count(session, Complaint) == 0
    with clock(MON, 10):
        body = client.post("/complaints", json={**INTAKE, "accused": "bob"}, headers=alice).json()
    cid, v = body["id"], body["version"]
    assert_problem(client.get("/complaints/999", headers=alice), 404)
    assert_problem(client.post("/complaints/999/events/acknowledge", json={"expected_version": 1}, headers=alice), 404)
    assert_problem(client.post(f"/complaints/{cid}/events/fly", json={"expected_version": v}, headers=alice), 404,
                   "unknown-event")
    assert_problem(client.post(f"/complaints/{cid}/events/escalate", json={"expected_version": v}, headers=alice),
                   409, "event-not-allowed")
    assert_problem(client.post(f"/complaints/{cid}/events/close", json={"expected_version": v}, headers=alice),
                   409, "event-not-allowed")
    assert_problem(client.post(f"/complaints/{cid}/events/acknowledge", json={"expected_version": v + 5},
                               headers=alice), 409, "stale-version")
    assert_problem(client.post(f"/complaints/{cid}/events/acknowledge", json={"expected_version": v},
                               headers=bob), 403)  # alice owns it
    assert_problem(client.post(f"/complaints/{cid}/events/hand_over", json={"expected_version": v, "to": "bob"},
                               headers=alice), 422, "rejected")  # 回避: bob is the person complained about
    assert_problem(client.post(f"/complaints/{cid}/events/take", json={"expected_version": v}, headers=bob), 403)
    assert_problem(client.post(f"/complaints/{cid}/events/acknowledge", json={"expected_version": v, "state": "x"},
                               headers=alice), 422)
    with clock(MON, 11):
        send(client, alice, cid, "acknowledge")
        send(client, alice, cid, "investigate")
        v = client.get(f"/complaints/{cid}", headers=alice).json()["version"]
        assert_problem(client.post(f"/complaints/{cid}/events/record_findings",
                                   json={"expected_version": v, "findings": "x", "evidence": ["e"],
                                         "root_cause": "weather"}, headers=alice), 422, "rejected")
    after = client.get(f"/complaints/{cid}", headers=alice).json()
    assert (after["version"], after["root_cause"], after["state"]) == (v, None, "investigating")


def test_list_filters_overdue_and_pagination(client: TestClient, people: Any) -> None:
    alice, bob, sue = people["alice"], people["bob"], people["sue"]
    with clock(MON, 10):
        a = client.post("/complaints", json=INTAKE, headers=alice).json()["id"]
        b = client.post("/complaints", json={**INTAKE, "urgency": "urgent"}, headers=bob).json()["id"]
        c = client.post("/complaints", json=INTAKE, headers=bob).json()["id"]
    with clock(MON, 11):
        send(client, bob, c, "acknowledge")

    def ids(query: str) -> tuple[list[int], int]:
        resp = client.get(f"/complaints{query}", headers=sue)
        assert resp.status_code == 200, resp.text
        return [i["id"] for i in resp.json()["items"]], resp.json()["total"]

    with clock(MON, 12):
        assert ids("") == ([a, b, c], 3)
        assert ids("?owner=bob") == ([b, c], 2)
        assert ids("?urgency=urgent") == ([b], 1)
        assert ids("?state=acknowledged") == ([c], 1)
        assert ids("?source=customer&limit=1&offset=1") == ([b], 3)
        assert ids("?overdue=true") == ([], 0)
    # 24 h after intake a and b are not acknowledged: overdue; c is not (its next due is the feedback)
    with clock(date(2026, 10, 13), 10):
        assert ids("?overdue=true") == ([a, b], 2)
        assert ids("?overdue=false") == ([c], 1)
    assert_problem(client.get("/complaints?limit=0", headers=sue), 422)
    assert_problem(client.get("/complaints", headers=people["agent"]), 403)


def test_the_handlers_queue_gives_urgent_first_then_the_nearest_due(client: TestClient, people: Any,
                                                                    session: Session) -> None:
    alice, bob, sue = people["alice"], people["bob"], people["sue"]
    with clock(MON, 10):
        early = client.post("/complaints", json=INTAKE, headers=sue).json()["id"]
    with clock(MON, 11):
        later = client.post("/complaints", json=INTAKE, headers=sue).json()["id"]
        about_alice = client.post("/complaints", json={**INTAKE, "urgency": "urgent", "accused": "alice"},
                                  headers=sue).json()["id"]
    with clock(MON, 12):
        urgent = client.post("/complaints", json={**INTAKE, "urgency": "urgent"}, headers=sue).json()["id"]
        client.post("/complaints", json=INTAKE, headers=bob)  # bob owns it: never in alice's queue
    assert client.get(f"/complaints/{early}", headers=sue).json()["owner"] is None  # a supervisor's intake waits
    with clock(MON, 13):
        first = client.get("/queue/next", headers=alice)
        assert first.status_code == 200 and first.json()["kind"] == "complaint"
        assert first.json()["item"]["id"] == urgent  # about_alice is urgent too, but 回避
        send(client, alice, urgent, "take")
        assert client.get("/queue/next", headers=alice).json()["item"]["id"] == urgent  # hers now, still first
        send(client, alice, urgent, "acknowledge")
        send(client, alice, urgent, "investigate")
        send(client, alice, urgent, "record_findings", **FINDINGS)
        send(client, alice, urgent, "make_plan", **PLAN)
        send(client, alice, urgent, "start_implementation")
        send(client, alice, urgent, "respond", result="solved", satisfaction=5)
        send(client, alice, urgent, "start_follow_up")
        send(client, alice, urgent, "close", follow_up_result="ok")
        assert client.get("/queue/next", headers=alice).json()["item"]["id"] == early  # nearest due next
        assert client.get("/queue/next", headers=bob).json()["item"]["id"] == about_alice
        for cid in (early, later):
            send(client, bob, cid, "take")
        assert client.get("/queue/next", headers=alice).status_code == 204  # bob's are his
    assert client.get("/queue/next", headers=bob).json()["item"]["id"] == about_alice


def test_the_sweep_escalation_shows_in_the_api(client: TestClient, people: Any, session: Session) -> None:
    with clock(MON, 10):
        cid = client.post("/complaints", json=INTAKE, headers=people["alice"]).json()["id"]
    session.commit()
    complaint_sla_sweep_flow.fn(as_of=sh(MON, 10) + timedelta(hours=24))
    got = client.get(f"/complaints/{cid}", headers=people["sue"]).json()
    assert (got["state"], got["escalated_to"]) == ("escalated", "supervisor:hq")


def test_confirming_a_misleading_sale_over_http_opens_the_linked_complaint(
    client: TestClient, people: Any, session: Session
) -> None:
    from tests.api.test_revisits_api import case_in

    case = case_in(session, state="follow_up_call")
    with clock(MON, 10):
        resp = client.post(f"/revisits/{case.id}/events/confirm_misleading",
                           json={"expected_version": case.version, "reason": "returns were promised"},
                           headers=people["sue"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "misleading_confirmed"
    items = client.get("/complaints?source=misleading_sale", headers=people["sue"]).json()["items"]
    assert [(i["revisit_case_id"], i["agent_code"], i["owner"], i["state"]) for i in items] == [
        (case.id, case.agent_code, None, "received")]
    assert items[0]["received_at"] == z(sh(MON, 10))
