"""`POST /policies` and `GET /policies/{policy_no}` over HTTP (SPEC §4, §4.1)."""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from api.routes import policies
from core.users import add_user
from models import Agent, AuditEntry, Policy
from tests.factories import T0, policy_payload

PROBLEM = "application/problem+json"


@pytest.fixture
def client(engine):
    app = create_app()
    if not any(getattr(r, "path", None) == "/policies" for r in app.routes):  # until api.main includes it
        app.include_router(policies.router)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth(session):
    """Headers for a new user of the given role (and branch)."""

    seq = itertools.count(1)

    def make(role: str, branch: str | None = None) -> dict[str, str]:
        name = f"{role}-{branch}-{next(seq)}"
        _, token = add_user(session=session, name=name, role=role, branch=branch, now=T0)
        return {"Authorization": f"Bearer {token}"}

    return make


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_import_list_answers_201_with_counts(client, auth, session):
    headers = auth("supervisor")
    records = [policy_payload(), policy_payload()]
    resp = client.post("/policies", json=records, headers=headers)
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}

    again = client.post("/policies", json=records, headers=headers)
    assert again.status_code == 201
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "rejected": []}


def test_import_one_object_and_partial_rejection(client, auth):
    headers = auth("manager")
    assert client.post("/policies", json=policy_payload(), headers=headers).json()["created"] == 1

    bad = policy_payload(channel="door_to_door")
    resp = client.post("/policies", json=[policy_payload(), bad], headers=headers)
    assert resp.status_code == 201
    body = resp.json()
    assert body["created"] == 1
    [rejected] = body["rejected"]
    assert (rejected["index"], rejected["policy_no"]) == (1, bad["policy_no"])
    assert [e["field"] for e in rejected["errors"]] == ["channel"]
    assert "agency" in rejected["errors"][0]["message"]


def test_all_invalid_is_422_problem_and_writes_nothing(client, auth, session):
    records = [policy_payload(term_years=0), policy_payload(policyholder={"name": ""})]
    resp = client.post("/policies", json=records, headers=auth("admin"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == 422 and body["type"].endswith("/invalid-policies") and "term_years" in body["detail"]
    assert body["errors"] == [
        {"field": "0.term_years", "message": "Input should be greater than or equal to 1"},
        {"field": "1.policyholder.name", "message": "String should have at least 1 character"},
    ]
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert count(session, Policy) == count(session, Agent) == count(session, AuditEntry) == 0


def test_empty_list_and_non_json_body_are_422(client, auth):
    headers = auth("admin")
    empty = client.post("/policies", json=[], headers=headers)
    assert empty.status_code == 422 and empty.headers["content-type"].startswith(PROBLEM)
    scalar = client.post("/policies", json="P1", headers=headers)
    assert scalar.status_code == 422 and scalar.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("role", ["call_agent", "complaint_handler", "auditor"])
def test_other_roles_may_not_import(client, auth, role):
    resp = client.post("/policies", json=policy_payload(), headers=auth(role))
    assert resp.status_code == 403 and resp.headers["content-type"].startswith(PROBLEM)


def test_branch_staff_may_not_import(client, auth):
    assert client.post("/policies", json=[], headers=auth("branch_staff", "SH01")).status_code == 403


def test_without_token_is_401(client):
    resp = client.post("/policies", json=policy_payload())
    assert resp.status_code == 401 and resp.headers["content-type"].startswith(PROBLEM)
    assert client.get("/policies/P1").status_code == 401


# --- GET /policies/{policy_no} ----------------------------------------------------------------------------


@pytest.fixture
def stored(client, auth):
    record = policy_payload(policyholder={"phone": "13800000001"}, agent={"phone": "13900000001"})
    assert client.post("/policies", json=record, headers=auth("admin")).status_code == 201
    return record


@pytest.mark.parametrize(
    ("role", "branch"), [("admin", None), ("supervisor", None), ("manager", None), ("branch_staff", "SH01")]
)
def test_roles_that_need_contact_data_see_it(client, auth, stored, role, branch):
    resp = client.get(f"/policies/{stored['policy_no']}", headers=auth(role, branch))
    assert resp.status_code == 200
    body = resp.json()
    assert body["policyholder"] == stored["policyholder"] and body["agent"] == stored["agent"]
    assert body["premium"] == "6000.00" and body["version"] == 1 and body["policy_no"] == stored["policy_no"]


@pytest.mark.parametrize("role", ["call_agent", "complaint_handler", "auditor"])
def test_other_roles_see_masked_numbers(client, auth, stored, role):
    body = client.get(f"/policies/{stored['policy_no']}", headers=auth(role)).json()
    assert body["policyholder"]["phone"] == "138****0001"
    assert body["policyholder"]["id_number"] == "3101**********0021"
    assert body["insured"]["id_number"] == "3101**********0021"
    assert body["agent"]["phone"] == "139****0001"
    assert body["policyholder"]["name"] == "张丽"


def test_branch_staff_of_another_branch_is_403(client, auth, stored):
    resp = client.get(f"/policies/{stored['policy_no']}", headers=auth("branch_staff", "BJ01"))
    assert resp.status_code == 403 and resp.headers["content-type"].startswith(PROBLEM)


def test_unknown_policy_is_404_problem(client, auth):
    resp = client.get("/policies/NOPE", headers=auth("admin"))
    assert resp.status_code == 404 and resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["status"] == 404


def test_masking_helpers():
    assert policies.mask_phone("13800000001") == "138****0001"
    assert policies.mask_id("310101198003020021") == "3101**********0021"
    assert policies.mask_phone("12345") == "*****" and policies.mask_phone(None) is None
    assert policies.mask_id("") == ""
