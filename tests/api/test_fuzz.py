"""A schema-driven fuzz run over every operation of the app's OpenAPI schema (SPEC §7: no 5xx).

Schemathesis generates requests from ``/openapi.json`` (valid and invalid bodies, parameters, ids) and sends
them straight to the ASGI app. Each request goes out as one of several roles, and half of the time with the
id of a seeded row and its current ``expected_version``, so that generation reaches the domain code behind
the 404s and 409s. The check: no response is a 5xx, and every 4xx is ``application/problem+json``.

Hypothesis is derandomized with a small, fixed budget per operation, so the run is reproducible in CI.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from api.main import create_app
from core.users import add_user
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
    revisits, orders = [], []
    for state in ("calling", "scheduled", "verification", "letter_pending"):
        case = make_revisit(session, state=state, due_date=date(2026, 10, 11), cooling_off_end=date(2026, 10, 26))
        revisits.append(case.id)
        if state == "verification":
            orders.append(make_work_order(session, case=case).id)
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
        handler = {"Authorization": f"Bearer {tokens['complaint_handler']}"}
        complaints = []
        for _ in range(2):
            resp = client.post("/complaints", json=COMPLAINT, headers=handler)
            assert resp.status_code == 201, resp.text
            complaints.append(resp.json()["id"])
    return {"revisits": revisits, "work_orders": orders, "complaints": complaints, "policies": policy_nos,
            "claims": [claim["claim_no"]]}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_error(
    operation: Any, app: Any, tokens: dict[str, str], seeded: dict[str, list[Any]]
) -> None:
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases, role=st.sampled_from((*ROLES, None)), pick=st.integers(0, 7), use_seeded=st.booleans(),
           fresh_version=st.booleans())
    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, role: str | None, pick: int, use_seeded: bool, fresh_version: bool) -> None:
        send_and_check(case, role=role, pick=pick, use_seeded=use_seeded, fresh_version=fresh_version, app=app,
                       tokens=tokens, seeded=seeded)

    check()


def send_and_check(
    case: Any, *, role: str | None, pick: int, use_seeded: bool, fresh_version: bool, app: Any, tokens: dict[str, str],
    seeded: dict[str, list[Any]],
) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if role is not None:
        headers["Authorization"] = f"Bearer {tokens[role]}"
    case.headers = headers
    version_of = None
    if use_seeded:
        for name in list(case.path_parameters or {}):
            ids = seeded.get(ID_PARAMS.get(name, ""))
            if ids:
                case.path_parameters[name] = ids[pick % len(ids)]
                if ID_PARAMS[name] in READ_PATH:
                    version_of = READ_PATH[ID_PARAMS[name]].format(case.path_parameters[name])
        if fresh_version and version_of and isinstance(case.body, dict) and "expected_version" in case.body:
            with TestClient(app) as client:
                current = client.get(version_of, headers={"Authorization": f"Bearer {tokens['admin']}"})
            if current.status_code == 200:
                case.body["expected_version"] = current.json()["version"]

    response = case.call()

    where = (f"{case.method} {case.formatted_path} as {role} query={case.query!r} body={case.body!r:.400} "
             f"-> {response.status_code} {response.text[:400]}")
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        assert response.headers.get("content-type", [""])[0].startswith(PROBLEM), where
