"""The revisit, work-order and queue API over HTTP (SPEC §4, §4.1), with the clock frozen.

The test's ``session`` and the app share one SQLite file whose transactions take the write lock at
BEGIN: every read the test makes is committed at once (``db_*`` helpers) so the app is never kept waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlmodel import Session

from api.main import create_app
from core.clock import UTC
from core.users import add_user
from models import AuditEntry, CallAttempt, RevisitCase, WorkOrder
from tests.factories import T0, make_policy, make_revisit, make_work_order

from tests.domain.test_attempts import ALL_YES, sh  # noqa: E402  (one questionnaire, one clock helper)

PROBLEM = "application/problem+json"
DAY = date(2026, 10, 12)  # Monday

def z(moment: datetime) -> str:
    """How the API writes an instant: ISO-8601 UTC with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def clock(day: date, hh: int, mm: int = 0) -> Iterator[None]:
    with freeze_time(sh(day, hh, mm)):
        yield


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def client(engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app()) as c:
        # FastAPI builds each router's routes at its first request; build them all before freezegun swaps
        # ``date``/``datetime`` in every module (a path no router has walks them all)
        c.get("/__build_every_router__")
        yield c


@pytest.fixture
def auth(session: Session):  # type: ignore[no-untyped-def]
    """``auth(role, branch)`` → headers of a new user."""
    seq = itertools.count(1)

    def make(role: str, branch: str | None = None) -> dict[str, str]:
        _, token = add_user(session=session, name=f"{role}-{branch}-{next(seq)}", role=role, branch=branch, now=T0)
        return {"Authorization": f"Bearer {token}"}

    return make


# --- database helpers (each read committed at once) ------------------------------------------------------------


def db_case(session: Session, case_id: int) -> RevisitCase:
    case = session.get(RevisitCase, case_id, populate_existing=True)
    session.commit()
    return case


def db_order(session: Session, order_id: int) -> WorkOrder:
    order = session.get(WorkOrder, order_id, populate_existing=True)
    session.commit()
    return order


def db_count(session: Session, model: Any, *where: Any) -> int:
    n = session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    session.commit()
    return n


def case_in(session: Session, *, branch: str = "SH01", channel: str = "agency", **over: Any) -> RevisitCase:
    """A due revisit (cooling-off to 10-26, room for the whole ladder) with its policy; committed."""
    policy = make_policy(
        session,
        branch_code=branch,
        channel=channel,
        agent_code=f"A-{branch}",
        receipt_signed_date=date(2026, 10, 9),
        receipt_entered_date=date(2026, 10, 10),
    )
    fields: dict[str, Any] = {
        "policy": policy,
        "state": "calling",
        "due_date": date(2026, 10, 11),
        "cooling_off_start": date(2026, 10, 9),
        "cooling_off_end": date(2026, 10, 26),
    }
    fields.update(over)
    case = make_revisit(session, **fields)
    session.commit()
    return case


def assert_problem(resp: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("http")
    if kind:
        assert body["type"].endswith("/" + kind), body["type"]
    return body


def post_attempt(
    client: TestClient, headers: dict[str, str], case_id: int, version: int, outcome: str, **extra: Any
) -> Any:
    return client.post(
        f"/revisits/{case_id}/attempts", json={"outcome": outcome, "expected_version": version, **extra}, headers=headers
    )


# --- GET /revisits -----------------------------------------------------------------------------------------------


def test_list_filters_pagination_and_shape(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    sup = auth("supervisor")
    a = case_in(session)
    b = case_in(session, channel="bancassurance", state="problem", classification="problem")
    c = case_in(session, branch="BJ01")
    d = case_in(session, state="scheduled", due_date=date(2026, 10, 20))
    e = case_in(session, channel="telesales", state="closed_success", classification="standard", late=True)
    f = case_in(session, state="verification", classification="verification")
    make_work_order(session, case=f, state="overdue")
    session.commit()

    def ids(query: str, headers: dict[str, str] = sup) -> tuple[list[int], int]:
        resp = client.get(f"/revisits{query}", headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "total"}
        return [item["id"] for item in body["items"]], body["total"]

    assert ids("") == ([a.id, b.id, c.id, d.id, e.id, f.id], 6)
    assert ids("?state=calling") == ([a.id, c.id], 2)
    assert ids("?branch=BJ01") == ([c.id], 1)
    assert ids("?channel=bancassurance") == ([b.id], 1)
    assert ids("?classification=problem") == ([b.id], 1)
    assert ids(f"?policy_no={a.policy_no}") == ([a.id], 1)
    assert ids("?overdue=true") == ([e.id, f.id], 2)
    assert ids("?overdue=false") == ([a.id, b.id, c.id, d.id], 4)
    assert ids("?due_before=2026-10-15&branch=SH01&state=calling") == ([a.id], 1)
    assert ids("?limit=2") == ([a.id, b.id], 6)
    assert ids("?limit=2&offset=2") == ([c.id, d.id], 6)
    assert ids("?limit=2&offset=4") == ([e.id, f.id], 6)
    assert ids("?limit=2&offset=6") == ([], 6)

    item = client.get(f"/revisits?policy_no={a.policy_no}", headers=sup).json()["items"][0]
    for key in ("id", "kind", "policy_no", "branch", "channel", "state", "classification", "flags", "due_date",
                "cooling_off_end", "next_deadline_at", "surrender_as_cooling_off_until", "version",
                "allowed_events", "attempts", "work_orders"):
        assert key in item, key
    assert (item["kind"], item["branch"], item["channel"], item["due_date"]) == (
        "new_contract", "SH01", "agency", "2026-10-11"
    )

    # branch staff: their branch only; call agents: never a case before it is due
    staff = auth("branch_staff", "SH01")
    assert ids("", staff) == ([a.id, b.id, d.id, e.id, f.id], 5)
    assert_problem(client.get("/revisits?branch=BJ01", headers=staff), 403)
    agent = auth("call_agent")
    assert d.id not in ids("", agent)[0]
    assert ids("", agent)[1] == 5

    assert_problem(client.get("/revisits?limit=0", headers=sup), 422, "invalid-request")
    assert_problem(client.get("/revisits?overdue=perhaps", headers=sup), 422)
    assert_problem(client.get("/revisits"), 401)


# --- GET /revisits/{id} ---------------------------------------------------------------------------------------------


def test_get_revisit_shape_with_attempts_and_work_orders(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    with clock(DAY, 10):
        first = post_attempt(client, agent, case.id, case.version, "no_answer")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["state"] == "calling" and body["next_attempt_at"] == z(sh(DAY, 12))
    assert body["allowed_events"] == ["cancel", "escalate_to_letter"]
    with clock(DAY, 12):
        second = post_attempt(
            client, agent, case.id, body["version"], "connected", answers={**ALL_YES, "coverage_known": "no"}
        )
    assert second.status_code == 201, second.text

    resp = client.get(f"/revisits/{case.id}", headers=agent)
    assert resp.status_code == 200
    got = resp.json()
    assert got["id"] == case.id and got["policy_no"] == case.policy_no
    assert (got["state"], got["classification"], got["problem_category"]) == ("problem", "problem", "misleading_suspected")
    assert got["due_date"] == "2026-10-11" and got["cooling_off_end"] == "2026-10-26"
    assert got["surrender_as_cooling_off_until"] is None and got["flags"] == []
    assert got["version"] == second.json()["version"] == db_case(session, case.id).version
    assert got["allowed_events"] == []  # the branch's explanation moves it on, not a client's event
    assert [(a["outcome"], a["at"]) for a in got["attempts"]] == [
        ("no_answer", z(sh(DAY, 10))),
        ("connected", z(sh(DAY, 12))),
    ]
    [order] = got["work_orders"]
    assert {"id", "case_id", "kind", "branch", "state", "due_at", "version"} <= set(order)
    assert (order["case_id"], order["kind"], order["branch"], order["state"], order["version"]) == (
        case.id, "problem", "SH01", "open", 1
    )
    assert order["due_at"] == "2026-10-15T15:59:59.999999Z"  # end of the 3rd working day, Asia/Shanghai


def test_missing_revisit_is_404_problem(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    assert_problem(client.get("/revisits/9999", headers=agent), 404)
    assert_problem(post_attempt(client, agent, 9999, 1, "no_answer"), 404)
    assert_problem(client.post("/revisits/9999/events/cancel", json={"expected_version": 1}, headers=auth("manager")), 404)
    # a call agent never sees a case before it is due
    early = case_in(session, state="scheduled", due_date=date(2026, 10, 20))
    assert_problem(client.get(f"/revisits/{early.id}", headers=agent), 404)
    assert client.get(f"/revisits/{early.id}", headers=auth("supervisor")).status_code == 200


def test_a_call_agent_cannot_read_the_history_of_a_case_not_due_yet(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    """SPEC §4: a call agent never sees a case before it is due — not through its audit trail either."""
    agent, supervisor = auth("call_agent"), auth("supervisor")
    early = case_in(session, state="scheduled", due_date=date(2026, 10, 20))
    due = case_in(session, state="calling")
    body = assert_problem(client.get(f"/cases/revisit/{early.id}/history", headers=agent), 404)
    assert "not due yet" in body["detail"]
    assert client.get(f"/cases/revisit/{early.id}/history", headers=supervisor).status_code == 200
    assert client.get(f"/cases/revisit/{due.id}/history", headers=agent).status_code == 200
    # once it is due the agent reads it
    session.get(RevisitCase, early.id).state = "calling"
    session.commit()
    assert client.get(f"/cases/revisit/{early.id}/history", headers=agent).status_code == 200


# --- branch scoping ----------------------------------------------------------------------------------------------------


def test_branch_staff_get_403_on_another_branch(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    staff = auth("branch_staff", "SH01")
    theirs = case_in(session, branch="BJ01", state="verification")
    their_order = make_work_order(session, case=theirs)
    ours = case_in(session, state="verification")
    our_order = make_work_order(session, case=ours)
    session.commit()

    assert_problem(client.get(f"/revisits/{theirs.id}", headers=staff), 403)
    assert_problem(client.get(f"/work-orders/{their_order.id}", headers=staff), 403)
    resp = client.post(f"/work-orders/{their_order.id}/events/start", json={"expected_version": 1}, headers=staff)
    assert_problem(resp, 403)
    assert db_order(session, their_order.id).state == "open"
    assert_problem(client.get(f"/cases/revisit/{theirs.id}/history", headers=staff), 403)
    assert_problem(client.get("/work-orders?branch=BJ01", headers=staff), 403)

    listed = client.get("/work-orders", headers=staff).json()
    assert [o["id"] for o in listed["items"]] == [our_order.id] and listed["total"] == 1
    assert client.get(f"/revisits/{ours.id}", headers=staff).status_code == 200
    with clock(DAY, 10):
        started = client.post(f"/work-orders/{our_order.id}/events/start", json={"expected_version": 1}, headers=staff)
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "in_progress" and started.json()["version"] == 2


# --- 409 and 422: refused and nothing changed ----------------------------------------------------------------------------


def test_stale_version_is_409_problem_and_changes_nothing(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    with clock(DAY, 10):
        ok = post_attempt(client, agent, case.id, case.version, "busy")
    assert ok.status_code == 201
    audits = db_count(session, AuditEntry)
    with clock(DAY, 11):
        stale = post_attempt(client, agent, case.id, case.version, "connected", answers=ALL_YES)
    body = assert_problem(stale, 409, "stale-version")
    assert body["current_version"] == ok.json()["version"]
    stored = db_case(session, case.id)
    assert stored.state == "calling" and stored.version == ok.json()["version"]
    assert db_count(session, CallAttempt) == 1 and db_count(session, AuditEntry) == audits

    # the same for events and work orders
    order = make_work_order(session, case=case_in(session, state="verification"))
    session.commit()
    assert_problem(
        client.post(f"/work-orders/{order.id}/events/start", json={"expected_version": 5}, headers=auth("branch_staff", "SH01")),
        409, "stale-version",
    )
    assert db_order(session, order.id).state == "open"


def test_event_not_allowed_is_409_listing_the_allowed_events(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    sup = auth("supervisor")
    case = case_in(session)
    v0 = case.version
    with clock(DAY, 10):
        resp = client.post(
            f"/revisits/{case.id}/events/close_failed", json={"expected_version": case.version, "reasons": ["x"]},
            headers=sup,
        )
        body = assert_problem(resp, 409, "event-not-allowed")
        assert body["allowed_events"] == ["cancel", "escalate_to_letter"] and body["state"] == "calling"
        assert "cancel" in body["detail"]

        # events that follow from attempts, work orders or the sweeps are not sent by hand
        for event in ("classify_standard", "close", "contact_fixed", "book_appointment", "open_calls", "ladder_jump"):
            refused = client.post(f"/revisits/{case.id}/events/{event}", json={"expected_version": case.version}, headers=sup)
            assert assert_problem(refused, 409, "event-not-allowed")["allowed_events"] == ["cancel", "escalate_to_letter"]
        assert_problem(
            client.post(f"/revisits/{case.id}/events/teleport", json={"expected_version": case.version}, headers=sup),
            404, "unknown-event",
        )
    stored = db_case(session, case.id)
    assert stored.state == "calling" and stored.version == v0
    assert db_count(session, AuditEntry) == 0

    closed = case_in(session, state="closed_success", classification="standard")
    with clock(DAY, 10):
        refused = post_attempt(client, auth("call_agent"), closed.id, closed.version, "no_answer")
    assert assert_problem(refused, 409, "event-not-allowed")["allowed_events"] == []
    assert db_count(session, CallAttempt) == 0


def test_bad_input_is_422_and_changes_nothing(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    v0 = case.version
    with clock(DAY, 10):
        unknown = post_attempt(client, agent, case.id, case.version, "hung_up")
        assert "unknown outcome" in assert_problem(unknown, 422)["detail"]
        missing = client.post(f"/revisits/{case.id}/attempts", json={"outcome": "no_answer"}, headers=agent)
        body = assert_problem(missing, 422, "invalid-request")
        assert "expected_version" in body["detail"] and body["errors"][0]["field"] == "expected_version"
        assert_problem(post_attempt(client, agent, case.id, case.version, "connected", answers={**ALL_YES, "identity": "maybe"}), 422)
        assert_problem(post_attempt(client, agent, case.id, case.version, "connected", answers={"identity": "yes"}), 422)
        assert_problem(post_attempt(client, agent, case.id, case.version, "no_answer", colour="red"), 422)
        assert_problem(post_attempt(client, agent, case.id, case.version, "appointment", appointment_at="soon"), 422)
        assert_problem(
            post_attempt(client, agent, case.id, case.version, "appointment", appointment_at=z(sh(DAY, 21))), 422
        )
        assert_problem(client.post(f"/revisits/{case.id}/attempts", content=b"{not json", headers=agent), 422)
    with clock(DAY, 7):
        early = post_attempt(client, agent, case.id, case.version, "no_answer")
        assert "09:00" in assert_problem(early, 422, "rejected")["detail"]
    stored = db_case(session, case.id)
    assert stored.version == v0 and stored.attempt_count == 0 and stored.appointment_at is None
    assert db_count(session, CallAttempt) == 0 and db_count(session, AuditEntry) == 0


def test_only_call_roles_record_attempts(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    case = case_in(session)
    with clock(DAY, 10):
        assert_problem(post_attempt(client, auth("branch_staff", "SH01"), case.id, case.version, "no_answer"), 403)
        assert_problem(post_attempt(client, auth("complaint_handler"), case.id, case.version, "no_answer"), 403)
    assert db_count(session, CallAttempt) == 0


# --- Idempotency-Key --------------------------------------------------------------------------------------------------------


def test_idempotency_key_replays_the_answer_and_records_one_attempt(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    key = {"Idempotency-Key": "call-7f3a", **agent}
    v0 = case.version
    with clock(DAY, 10):
        first = post_attempt(client, key, case.id, case.version, "no_answer")
    with clock(DAY, 10, 1):
        again = post_attempt(client, key, case.id, case.version, "no_answer")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert db_count(session, CallAttempt) == 1
    assert db_case(session, case.id).version == v0 + 1

    with clock(DAY, 10, 2):
        other_body = post_attempt(client, key, case.id, case.version, "busy")
    assert_problem(other_body, 422)
    assert db_count(session, CallAttempt) == 1


def test_idempotent_replay_after_the_case_has_moved_on(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    key = {"Idempotency-Key": "close-it", **agent}
    with clock(DAY, 10):
        first = post_attempt(client, key, case.id, case.version, "connected", answers=ALL_YES)
        assert first.status_code == 201 and first.json()["state"] == "closed_success"
        again = post_attempt(client, key, case.id, case.version, "connected", answers=ALL_YES)
    assert again.status_code == 201 and again.json() == first.json()
    assert db_count(session, CallAttempt) == 1


# --- GET /queue/next ------------------------------------------------------------------------------------------------------------


def test_queue_for_call_agents(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent1, agent2, agent3 = auth("call_agent"), auth("call_agent"), auth("call_agent")
    later = case_in(session, cooling_off_end=date(2026, 10, 26))
    sooner = case_in(session, cooling_off_end=date(2026, 10, 16))
    case_in(session, state="scheduled", due_date=date(2026, 10, 11), cooling_off_end=date(2026, 10, 13))
    case_in(session, state="scheduled", due_date=date(2026, 10, 20), cooling_off_end=date(2026, 10, 14))
    case_in(session, cooling_off_end=date(2026, 10, 14), next_attempt_at=sh(DAY, 11))  # spaced: not yet
    case_in(session, cooling_off_end=date(2026, 10, 14), due_date=date(2026, 10, 13))  # not due yet

    with clock(DAY, 8, 59):
        assert client.get("/queue/next", headers=agent1).status_code == 204  # outside callable hours
    with clock(DAY, 10):
        first = client.get("/queue/next", headers=agent1)
        assert first.status_code == 200, first.text
        assert first.json()["kind"] == "revisit" and first.json()["item"]["id"] == sooner.id  # cooling-off nearest
        # held for its agent: the same agent gets it again, another gets the next one
        assert client.get("/queue/next", headers=agent1).json()["item"]["id"] == sooner.id
        assert client.get("/queue/next", headers=agent2).json()["item"]["id"] == later.id
        assert client.get("/queue/next", headers=agent3).status_code == 204  # the scheduled ones never
    with clock(DAY, 20, 0):
        assert client.get("/queue/next", headers=agent3).status_code == 204


def test_queue_gives_a_due_appointment_first(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case_in(session, cooling_off_end=date(2026, 10, 14))
    booked = case_in(
        session, state="appointment", cooling_off_end=date(2026, 10, 26),
        appointment_at=sh(DAY, 10), next_attempt_at=sh(DAY, 10),
    )
    with clock(DAY, 9, 30):
        assert client.get("/queue/next", headers=agent).json()["item"]["id"] != booked.id
    with clock(DAY, 10, 0):
        assert client.get("/queue/next", headers=auth("call_agent")).json()["item"]["id"] == booked.id


def test_queue_for_branch_staff_is_their_branch_in_processing_order(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    sh01, bj01 = auth("branch_staff", "SH01"), auth("branch_staff", "BJ01")
    problem = make_work_order(
        session, case=case_in(session, state="problem"), kind="problem",
        issued_at=sh(date(2026, 9, 20), 10), due_at=sh(date(2026, 9, 24), 23, 59),
    )
    verification = make_work_order(
        session, case=case_in(session, state="verification"), kind="verification",
        issued_at=sh(DAY, 9), due_at=sh(date(2026, 10, 15), 23, 59),
    )
    other = make_work_order(session, case=case_in(session, branch="GZ01", state="verification"), kind="verification")
    session.commit()
    with clock(DAY, 10):
        got = client.get("/queue/next", headers=sh01)
        assert got.status_code == 200 and got.json()["kind"] == "work_order"
        assert got.json()["item"]["id"] == verification.id  # verification first, though the problem is older
        assert client.get("/queue/next", headers=bj01).status_code == 204
        assert client.get("/queue/next", headers=auth("branch_staff", "GZ01")).json()["item"]["id"] == other.id
        assert_problem(client.get("/queue/next", headers=auth("auditor")), 403)  # complaint handlers have theirs now
    verification_row = db_order(session, verification.id)
    verification_row.state = "accepted"
    session.add(verification_row)
    session.commit()
    with clock(DAY, 10):
        assert client.get("/queue/next", headers=sh01).json()["item"]["id"] == problem.id


def test_queue_offers_the_follow_up_call_after_the_branchs_explanation(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session, state="follow_up_call", classification="problem", next_attempt_at=sh(DAY, 15))
    with clock(DAY, 14):
        assert client.get("/queue/next", headers=agent).status_code == 204
    with clock(DAY, 15):
        got = client.get("/queue/next", headers=agent).json()["item"]
        assert got["id"] == case.id
        assert got["allowed_events"] == ["confirm_misleading", "follow_up_not_understood", "follow_up_understood"]


def test_an_appointment_time_without_offset_is_shanghai_time(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    agent = auth("call_agent")
    case = case_in(session)
    with clock(DAY, 10):
        resp = post_attempt(client, agent, case.id, case.version, "appointment", appointment_at="2026-10-12T15:00:00")
    assert resp.status_code == 201, resp.text
    assert resp.json()["state"] == "appointment"
    assert resp.json()["appointment_at"] == z(sh(DAY, 15)) == "2026-10-12T07:00:00Z"
    with clock(DAY, 10, 5):
        other = case_in(session)
        offset = post_attempt(
            client, agent, other.id, other.version, "appointment", appointment_at="2026-10-12T07:00:00+00:00"
        )
    assert offset.json()["appointment_at"] == "2026-10-12T07:00:00Z"


def test_work_order_events_the_sweeps_send_are_refused_and_not_offered(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    order = make_work_order(session, case=case_in(session, state="verification"))
    session.commit()
    staff = auth("branch_staff", "SH01")
    got = client.get(f"/work-orders/{order.id}", headers=staff).json()
    assert got["allowed_events"] == ["cancel", "start", "submit"]
    with clock(DAY, 10):
        refused = client.post(f"/work-orders/{order.id}/events/mark_overdue", json={"expected_version": 1}, headers=staff)
        assert_problem(refused, 409, "event-not-allowed")
        assert_problem(
            client.post(f"/work-orders/{order.id}/events/accept", json={"expected_version": 1}, headers=staff), 403
        )
        assert_problem(client.post(f"/work-orders/{order.id}/events/submit", json={"expected_version": 1}, headers=staff), 422)
    assert db_order(session, order.id).state == "open" and db_order(session, order.id).version == 1


@pytest.mark.parametrize("result", ["done", ["called the customer"], 17])
def test_a_work_order_result_that_is_no_object_is_422_and_changes_nothing(client: TestClient, auth, session: Session, result: Any) -> None:  # type: ignore[no-untyped-def]
    order = make_work_order(session, case=case_in(session, state="verification"))
    session.commit()
    with clock(DAY, 10):
        resp = client.post(f"/work-orders/{order.id}/events/submit", json={"expected_version": 1, "result": result},
                           headers=auth("branch_staff", "SH01"))
    assert "'result' object" in assert_problem(resp, 422, "rejected")["detail"]
    stored = db_order(session, order.id)
    assert (stored.state, stored.version, stored.result) == ("open", 1, {})
    assert db_count(session, AuditEntry) == 0


ID_PATHS = ["/revisits/{}", "/work-orders/{}", "/complaints/{}", "/cases/revisit/{}/history", "/work-orders?case_id={}"]
OFFSET_PATHS = ["/revisits?offset={}", "/work-orders?offset={}", "/complaints?offset={}", "/quality/agents?offset={}",
                "/quality/penalties?offset={}"]


@pytest.mark.parametrize("path", ID_PATHS)
def test_an_id_beyond_the_id_columns_is_422_not_a_crash(client: TestClient, auth, session: Session, path: str) -> None:  # type: ignore[no-untyped-def]
    admin = auth("admin")
    too_big = 2**31  # ids are INTEGER columns: 32-bit on PostgreSQL (NumericValueOutOfRange there, a 500)
    body = assert_problem(client.get(path.format(too_big), headers=admin), 422, "invalid-request")
    assert "less than or equal to 2147483647" in body["detail"]
    if "?" not in path:  # the largest id is still a lookup: nothing has it
        assert_problem(client.get(path.format(too_big - 1), headers=admin), 404)


@pytest.mark.parametrize("path", OFFSET_PATHS)
def test_an_offset_beyond_64_bits_is_422_not_a_crash(client: TestClient, auth, session: Session, path: str) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(client.get(path.format(2**63), headers=auth("admin")), 422, "invalid-request")
    assert "less than or equal to 9223372036854775807" in body["detail"]


@pytest.mark.postgres
def test_the_largest_id_is_a_plain_404_on_postgresql(pg_engine, auth_pg) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app()) as c:
        assert_problem(c.get(f"/revisits/{2**31 - 1}", headers=auth_pg("admin")), 404)


@pytest.fixture
def auth_pg(pg_session: Session):  # type: ignore[no-untyped-def]
    def make(role: str) -> dict[str, str]:
        _, token = add_user(session=pg_session, name=f"pg-{role}", role=role, branch=None, now=T0)
        return {"Authorization": f"Bearer {token}"}

    return make


def test_events_on_an_id_beyond_the_id_columns_are_422_and_change_nothing(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    admin, too_big = auth("admin"), 2**31
    with clock(DAY, 10):
        for path, body in [
            (f"/revisits/{too_big}/attempts", {"outcome": "no_answer", "expected_version": 1}),
            (f"/revisits/{too_big}/events/cancel", {"expected_version": 1, "reason": "x"}),
            (f"/revisits/{too_big}/care-touches/day0", {"outcome": "done", "channel": "sms", "expected_version": 1}),
            (f"/work-orders/{too_big}/events/start", {"expected_version": 1}),
            (f"/complaints/{too_big}/events/acknowledge", {"expected_version": 1}),
        ]:
            assert_problem(client.post(path, json=body, headers=admin), 422, "invalid-request")
    assert db_count(session, AuditEntry) == 0


@pytest.mark.parametrize("reasons", ["unreachable", {"unreachable": 1}, [], ["  "]])
def test_closing_as_failed_needs_a_list_of_reasons(client: TestClient, auth, session: Session, reasons: Any) -> None:  # type: ignore[no-untyped-def]
    case = case_in(session, state="letter_or_onsite")
    with clock(DAY, 10):
        resp = client.post(f"/revisits/{case.id}/events/close_failed",
                           json={"expected_version": case.version, "reasons": reasons}, headers=auth("supervisor"))
    assert "'reasons'" in assert_problem(resp, 422, "rejected")["detail"]
    stored = db_case(session, case.id)
    assert (stored.state, stored.version, stored.failure_reasons) == ("letter_or_onsite", case.version, [])
    assert db_count(session, AuditEntry) == 0


@pytest.mark.parametrize("key", ["event", "machine", "delay", "state"])
def test_event_payload_cannot_use_the_state_machines_own_names(client: TestClient, auth, session: Session, key: str) -> None:  # type: ignore[no-untyped-def]
    case = case_in(session)
    order = make_work_order(session, case=case_in(session, state="verification"))
    session.commit()
    with clock(DAY, 10):
        body = {"expected_version": case.version, "reason": "policy surrendered", key: "x"}
        assert_problem(client.post(f"/revisits/{case.id}/events/cancel", json=body, headers=auth("manager")), 422)
        body = {"expected_version": 1, key: "x"}
        assert_problem(
            client.post(f"/work-orders/{order.id}/events/start", json=body, headers=auth("branch_staff", "SH01")), 422
        )
    assert db_case(session, case.id).state == "calling" and db_order(session, order.id).state == "open"


def test_a_failed_follow_up_call_attempt_is_recorded_through_the_api(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    """SPEC §2.8: HQ's follow-up call may fail like any call; the case stays in follow_up_call, spaced."""
    agent = auth("call_agent")
    case = case_in(session, state="follow_up_call", classification="problem", next_attempt_at=sh(DAY, 15))
    with clock(DAY, 15):
        resp = post_attempt(client, agent, case.id, case.version, "no_answer")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["state"], body["attempt_count"], body["version"]) == ("follow_up_call", 1, case.version + 1)
    assert body["next_attempt_at"] == z(sh(DAY, 17))
    assert body["allowed_events"] == ["confirm_misleading", "follow_up_not_understood", "follow_up_understood"]
    # a connected call is recorded with its result event, not as an attempt: 422, nothing changed
    with clock(DAY, 17):
        refused = post_attempt(client, agent, case.id, body["version"], "connected", answers=ALL_YES)
    assert "follow_up_understood" in assert_problem(refused, 422)["detail"]
    assert db_case(session, case.id).version == body["version"]
    assert db_count(session, CallAttempt, CallAttempt.case_id == case.id) == 1


def test_a_call_agent_never_sees_a_case_before_its_due_date_whatever_its_state(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A case flagged at intake can be verified and re-called before its extraction day: still not visible."""
    agent = auth("call_agent")
    future = date.today() + timedelta(days=30)
    early = case_in(session, state="calling", due_date=future)
    due = case_in(session, state="calling")
    session.commit()
    assert_problem(client.get(f"/revisits/{early.id}", headers=agent), 404)
    listed = [c["id"] for c in client.get("/revisits", headers=agent).json()["items"]]
    assert due.id in listed and early.id not in listed
    assert client.get(f"/revisits/{early.id}", headers=auth("supervisor")).status_code == 200
