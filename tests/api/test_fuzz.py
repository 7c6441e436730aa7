"""A schema-driven fuzz run over every operation of the app's OpenAPI schema (SPEC §7: no 5xx).

Schemathesis generates requests from ``/openapi.json`` (valid and, one in four, invalid bodies, parameters,
headers) and sends them straight to the ASGI app; each operation is one test on a fresh seeded database.
Generated data alone stops at the 401s, 404s and 409s, so each request is steered: it goes out as one of
several roles (or none), and mostly names a seeded row, an event that row's state takes, its current
``expected_version`` and payload fields the validators read, with generated values of any JSON type.
The check: no response is a 5xx, and every 4xx is ``application/problem+json`` (api/errors.py).

Hypothesis is derandomized with a small, fixed budget per operation (about 25 s for the whole run), so the
run is the same in CI every time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlmodel import Session

from api.main import create_app
from core.clock import UTC
from core.users import add_user
from domain.claims import TOUCH_KINDS
from domain.classification import OUTCOMES
from flows.claims import claims_revisit_intake_flow
from statemachines.registry import get_kind, kinds, machines
from tests.factories import T0, claim_payload, make_policy, make_revisit, make_work_order, policy_payload

PROBLEM = "application/problem+json"
ROLES = ("call_agent", "branch_staff", "complaint_handler", "supervisor", "manager", "auditor", "admin")
COMPLAINT = {"channel": "hotline", "complainant": {"name": "张丽", "phone": "13800000001"}, "policy_no": None,
             "content": "the agent promised returns", "category": "sales_misleading", "urgency": "normal"}
# which seeded ids a path parameter of that name may take, and where to read the row's current version
ID_PARAMS = {"case_id": "revisits", "order_id": "work_orders", "complaint_id": "complaints",
             "policy_no": "policies", "claim_no": "claims"}
READ_PATH = {"revisits": "/revisits/{}", "work_orders": "/work-orders/{}", "complaints": "/complaints/{}"}

APP = create_app()
# /openapi.json touches no database: the schema loads once, at collection, and names every operation
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def app(engine):  # type: ignore[no-untyped-def]
    """The module's app, whose requests go to the test's database (the engine is looked up per request)."""
    return APP


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    """A bearer token per role (branch staff of SH01, where the seeded cases live)."""
    out = {}
    for role in ROLES:
        _, token = add_user(session=session, name=f"fuzz-{role}", role=role,
                            branch="SH01" if role == "branch_staff" else None, now=T0)
        out[role] = token
    session.commit()
    return out


@pytest.fixture
def seeded(app: Any, session: Session, tokens: dict[str, str]) -> dict[str, list[Any]]:
    """A few rows of each kind, so that generated requests can name ids that exist."""
    orders = []
    for state in ("calling", "scheduled", "appointment", "recall", "letter_pending"):
        make_revisit(session, state=state, due_date=date(2026, 10, 11), cooling_off_end=date(2026, 10, 26))
    for state in ("verification", "letter_or_onsite"):
        case = make_revisit(session, state=state, due_date=date(2026, 10, 11), cooling_off_end=date(2026, 10, 26))
        for order_state in ("open", "in_progress", "submitted", "overdue"):
            orders.append(make_work_order(session, case=case, state=order_state).id)
    policy_nos = [make_policy(session).policy_no for _ in range(2)]
    session.commit()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with TestClient(app) as client:
        imported = policy_payload()
        resp = client.post("/policies", json=imported, headers=admin)
        assert resp.status_code in (200, 201), resp.text
        policy_nos.append(imported["policy_no"])
        claim = claim_payload(policy_nos[0])
        resp = client.post("/claims", json=claim, headers=admin)
        assert resp.status_code in (200, 201), resp.text
        claims_revisit_intake_flow.fn(as_of=datetime(2026, 9, 29, 22, 30, tzinfo=UTC))  # its claim revisit
        handler = {"Authorization": f"Bearer {tokens['complaint_handler']}"}
        complaints = []
        for _ in range(2):
            resp = client.post("/complaints", json=COMPLAINT, headers=handler)
            assert resp.status_code == 201, resp.text
            complaints.append(resp.json()["id"])
        listed = client.get("/revisits", params={"limit": 500}, headers=admin)
        assert listed.status_code == 200, listed.text
        revisits = [item["id"] for item in listed.json()["items"]]
        claim_revisits = [item["id"] for item in listed.json()["items"] if item["kind"] == "claim"]
        assert claim_revisits
    return {"revisits": revisits, "claim_revisits": claim_revisits, "work_orders": orders,
            "complaints": complaints, "policies": policy_nos, "claims": [claim["claim_no"]]}


# payload fields the event validators and domain code read (statemachines/*.py, domain/*.py): generated values of
# any JSON type under these names reach the code behind a valid event, which random names never do
PAYLOAD_KEYS = ("reason", "reasons", "result", "explanation", "note", "findings", "evidence", "root_cause",
                "measures", "department", "person", "deadline", "satisfaction", "follow_up_result",
                "inform_complainant", "to", "handler", "approver", "appointment_at", "channel")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
    | st.sampled_from(["2026-10-20", "2026-10-20T10:00:00+08:00", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
MOSTLY = st.sampled_from((True, True, True, False))
STEER = st.fixed_dictionaries({
    # Hypothesis leans to the first element: admin (whom every role check lets through) leads
    "role": st.sampled_from(("admin", *ROLES, None)),  # None: no Authorization header at all
    "pick": st.integers(0, 40),  # which seeded row / known name
    "seeded": MOSTLY,  # name a seeded row instead of the generated id
    "fresh": MOSTLY,  # send that row's current expected_version
    "known": MOSTLY,  # a declared event / kind / outcome instead of the generated name
    "extra": st.dictionaries(st.sampled_from(PAYLOAD_KEYS), JSON, max_size=4),
})


def known_names(path: str, param: str) -> tuple[str, ...]:
    """The names a path parameter takes when it names something that exists."""
    if param == "event":
        machine = {"/revisits": "revisit", "/work-orders": "work_order", "/complaints": "complaint"}
        for prefix, name in machine.items():
            if path.startswith(prefix):
                return tuple(sorted(get_kind(name).table))
    if param == "kind":
        return TOUCH_KINDS if "care-touches" in path else tuple(sorted(kinds()))
    if param == "name":
        return tuple(sorted(machines()))
    return ()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_error(
    operation: Any, app: Any, tokens: dict[str, str], seeded: dict[str, list[Any]]
) -> None:
    # one request in four breaks the schema (negative mode); the others get past validation into the routes
    positive, negative = operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    cases = st.integers(0, 3).flatmap(lambda n: negative if n == 3 else positive)

    @given(case=cases, steer=STEER)
    @settings(
        max_examples=80 if operation.method.lower() == "post" else 30,  # writes reach the most code per request
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, steer: dict[str, Any]) -> None:
        send_and_check(case, steer, app=app, tokens=tokens, seeded=seeded)

    check()


def send_and_check(case: Any, steer: dict[str, Any], *, app: Any, tokens: dict[str, str],
                   seeded: dict[str, list[Any]]) -> None:
    role, pick = steer["role"], steer["pick"]
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if role is not None:
        headers["Authorization"] = f"Bearer {tokens[role]}"
    case.headers = headers
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    if steer["known"]:
        for name in list(case.path_parameters or {}):
            names = known_names(path, name)
            if names:
                case.path_parameters[name] = names[pick % len(names)]
        if body is not None and "expected_version" in body and "{event}" in path:
            body.update(steer["extra"])
        if body is not None and path.endswith("/attempts"):
            body["outcome"] = OUTCOMES[pick % len(OUTCOMES)]
            body.update({k: v for k, v in steer["extra"].items() if k == "appointment_at"})
    read_path = None
    if steer["seeded"]:
        for name in [n for n in case.path_parameters or {} if n in ID_PARAMS]:
            ids = seeded["claim_revisits" if "care-touches" in path else ID_PARAMS[name]]
            if ids:
                case.path_parameters[name] = ids[pick % len(ids)]
                if ID_PARAMS[name] in READ_PATH:
                    read_path = READ_PATH[ID_PARAMS[name]].format(case.path_parameters[name])
    if read_path and body is not None and "expected_version" in body:
        with TestClient(app) as client:
            current = client.get(read_path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        view = current.json() if current.status_code == 200 else {}
        allowed = [e for e in view.get("allowed_events") or [] if e in known_names(path, "event")]
        if steer["known"] and "{event}" in path and allowed:  # an event the row's state takes
            case.path_parameters["event"] = allowed[pick % len(allowed)]
        if steer["fresh"] and view:
            if "{kind}" in path:  # a care touch carries its own version
                touches = [t for t in view.get("care_touches") or [] if t["kind"] == case.path_parameters["kind"]]
                view = touches[0] if touches else view
            body["expected_version"] = view["version"]

    response = case.call()

    where = (f"{case.method} {case.formatted_path} as {role} query={case.query!r} body={case.body!r:.400} "
             f"-> {response.status_code} {response.text[:400]}")
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        assert response.headers.get("content-type", [""])[0].startswith(PROBLEM), where
