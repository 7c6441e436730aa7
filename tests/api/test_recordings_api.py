"""Access to call recordings (SPEC §2.13): supervisor-level asks with a reason, the head approves, every step
logged — through the API, with the errors that change nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from models import AuditEntry, RecordingAccessRequest
from tests.api.test_revisits_api import assert_problem, auth, client  # noqa: F401  (fixtures)
from tests.factories import make_revisit


def _count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    n = session.execute(select(func.count()).select_from(model)).scalar_one()
    session.commit()
    return n


def test_request_approve_and_hear_a_recording_with_every_step_audited(client, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    case = make_revisit(session)
    session.commit()
    supervisor, head, agent = auth("supervisor"), auth("manager"), auth("call_agent")

    # a call agent may not ask; a reason is required; the case must exist — and nothing is written
    assert_problem(client.post("/recording-access", json={"case_kind": "revisit", "case_id": case.id,
                                                          "reason": "客户投诉误导"}, headers=agent), 403)
    assert_problem(client.post("/recording-access", json={"case_kind": "revisit", "case_id": case.id, "reason": ""},
                               headers=supervisor), 422)
    assert_problem(client.post("/recording-access", json={"case_kind": "revisit", "case_id": 9999,
                                                          "reason": "核查"}, headers=supervisor), 404)
    assert _count(session, RecordingAccessRequest) == 0

    made = client.post("/recording-access", json={"case_kind": "revisit", "case_id": case.id,
                                                  "reason": "客户投诉回访员误导, 核查录音"}, headers=supervisor)
    assert made.status_code == 201
    req = made.json()
    assert (req["state"], req["version"], req["allowed_events"]) == ("requested", 1, ["approve", "reject"])

    # not heard before approval; the requester cannot approve their own request; a call agent cannot approve
    assert_problem(client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 1},
                               headers=supervisor), 409)
    assert_problem(client.post(f"/recording-access/{req['id']}/events/approve", json={"expected_version": 1},
                               headers=agent), 403)
    assert_problem(client.post(f"/recording-access/{req['id']}/events/approve", json={"expected_version": 9},
                               headers=head), 409)
    approved = client.post(f"/recording-access/{req['id']}/events/approve", json={"expected_version": 1,
                                                                                 "note": "同意"}, headers=head)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    # only the requester hears it; each hearing is logged
    assert_problem(client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 2},
                               headers=head), 403)
    first = client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 2}, headers=supervisor)
    again = client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 3}, headers=supervisor)
    assert (first.json()["state"], again.json()["access_count"]) == ("accessed", 2)

    trail = client.get(f"/cases/recording_access/{req['id']}/history", headers=head).json()["items"]
    assert [(t["event"], t["target"]) for t in trail] == [
        ("requested", "requested"), ("approve", "approved"), ("access", "accessed"), ("access", "accessed")
    ]
    assert _count(session, AuditEntry) == 4
    assert_problem(client.get(f"/cases/recording_access/{req['id']}/history", headers=agent), 403)


def test_a_rejection_needs_a_reason_and_ends_the_request(client, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    case = make_revisit(session)
    session.commit()
    supervisor, head = auth("supervisor"), auth("manager")
    req = client.post("/recording-access", json={"case_kind": "revisit", "case_id": case.id, "reason": "抽检"},
                      headers=supervisor).json()
    assert_problem(client.post(f"/recording-access/{req['id']}/events/reject", json={"expected_version": 1},
                               headers=head), 422)
    done = client.post(f"/recording-access/{req['id']}/events/reject",
                       json={"expected_version": 1, "reason": "抽检无需调阅录音"}, headers=head)
    assert done.status_code == 200 and (done.json()["state"], done.json()["allowed_events"]) == ("rejected", [])
    assert_problem(client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 2},
                               headers=supervisor), 409)


def test_a_closed_request_allows_no_more_hearings(client, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    case = make_revisit(session)
    session.commit()
    supervisor, head = auth("supervisor"), auth("manager")
    req = client.post("/recording-access", json={"case_kind": "revisit", "case_id": case.id, "reason": "质检"},
                      headers=supervisor).json()
    client.post(f"/recording-access/{req['id']}/events/approve", json={"expected_version": 1}, headers=head)
    closed = client.post(f"/recording-access/{req['id']}/events/close", json={"expected_version": 2}, headers=supervisor)
    assert closed.json()["state"] == "closed"
    assert_problem(client.post(f"/recording-access/{req['id']}/events/access", json={"expected_version": 3},
                               headers=supervisor), 409)
