"""Builders of test rows with sensible defaults; override what a test is about."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from core.clock import UTC
from models import Agent, Policy, RevisitCase, WorkOrder

_seq = itertools.count(1)

T0 = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # Tue 2026-09-29 10:00 Asia/Shanghai


def policy_payload(**over: Any) -> dict[str, Any]:
    """A policy as `POST /policies` takes it (SPEC §4.1)."""
    n = next(_seq)
    body: dict[str, Any] = {
        "policy_no": f"P2026{n:06d}",
        "product_code": "END-20",
        "product_type": "participating",
        "line": "life",
        "term_years": 20,
        "channel": "agency",
        "premium": "6000.00",
        "payment_mode": "annual",
        "payment_years": 10,
        "cooling_off_days": 15,
        "issue_date": "2026-09-10",
        "print_date": "2026-09-10",
        "receipt_signed_date": "2026-09-16",
        "receipt_entered_date": "2026-09-17",
        "special_revisit": False,
        "policyholder": {
            "name": "张丽",
            "gender": "F",
            "birth_date": "1980-03-02",
            "id_number": "310101198003020021",
            "phone": f"138{n:08d}",
            "address": "上海市浦东新区",
        },
        "insured": {
            "name": "张丽",
            "gender": "F",
            "birth_date": "1980-03-02",
            "id_number": "310101198003020021",
            "phone": f"138{n:08d}",
            "address": "上海市浦东新区",
        },
        "agent": {
            "code": "A0001",
            "name": "王强",
            "phone": "13900000001",
            "branch": "SH01",
            "supervisor_code": "S01",
            "manager_code": "M01",
            "active": True,
        },
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def make_agent(session: Session, **over: Any) -> Agent:
    fields: dict[str, Any] = {
        "code": "A0001",
        "name": "王强",
        "phone": "13900000001",
        "branch_code": "SH01",
        "supervisor_code": "S01",
        "manager_code": "M01",
        "active": True,
    }
    fields.update(over)
    agent = session.get(Agent, fields["code"])
    if agent is None:
        agent = Agent(**fields)
        session.add(agent)
        session.flush()
    return agent


def make_policy(session: Session, **over: Any) -> Policy:
    n = next(_seq)
    fields: dict[str, Any] = {
        "policy_no": f"P2026{n:06d}",
        "product_code": "END-20",
        "product_type": "participating",
        "line": "life",
        "term_years": 20,
        "channel": "agency",
        "premium": Decimal("6000.00"),
        "payment_mode": "annual",
        "payment_years": 10,
        "cooling_off_days": 15,
        "issue_date": date(2026, 9, 10),
        "receipt_signed_date": date(2026, 9, 16),
        "receipt_entered_date": date(2026, 9, 17),
        "holder_name": "张丽",
        "holder_phone": f"138{n:08d}",
        "agent_code": "A0001",
        "branch_code": "SH01",
        "imported_at": T0,
        "updated_at": T0,
    }
    fields.update(over)
    make_agent(session, code=fields["agent_code"], branch_code=fields["branch_code"])
    policy = Policy(**fields)
    session.add(policy)
    session.flush()
    return policy


def make_revisit(session: Session, **over: Any) -> RevisitCase:
    policy = over.pop("policy", None) or make_policy(session)
    fields: dict[str, Any] = {
        "kind": "new_contract",
        "policy_id": policy.id,
        "policy_no": policy.policy_no,
        "branch_code": policy.branch_code,
        "channel": policy.channel,
        "agent_code": policy.agent_code,
        "state": "calling",
        "due_date": date(2026, 9, 18),
        "cooling_off_end": date(2026, 10, 8),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(over)
    case = RevisitCase(**fields)
    session.add(case)
    session.flush()
    return case


def make_work_order(session: Session, **over: Any) -> WorkOrder:
    case = over.pop("case", None) or make_revisit(session, state="verification")
    fields: dict[str, Any] = {
        "case_id": case.id,
        "kind": "verification",
        "branch_code": case.branch_code,
        "state": "open",
        "issued_at": T0,
        "due_at": datetime(2026, 10, 9, 15, 59, 59, 999999, tzinfo=UTC),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(over)
    order = WorkOrder(**fields)
    session.add(order)
    session.flush()
    return order


def claim_payload(policy_no: str, **over: Any) -> dict[str, Any]:
    """A claim as `POST /claims` takes it (SPEC §4.1): closed on Tue 2026-09-29 unless told otherwise."""
    n = next(_seq)
    body: dict[str, Any] = {
        "claim_no": f"C2026{n:06d}",
        "policy_no": policy_no,
        "claimant": {"name": "张丽", "phone": f"137{n:08d}"},
        "type": "medical",
        "amount": "12000.00",
        "state": "closed",
        "closed_date": "2026-09-29",
        "stage": None,
        "handler": "理赔员李",
    }
    body.update(over)
    return body
