"""Revisit cases (新契约回访 / 理赔回访), their call attempts and the branches' work orders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import json_field, nullable_json_field, utc_field


class RevisitCase(SQLModel, table=True):
    __tablename__ = "revisit_case"
    __table_args__ = (
        UniqueConstraint("kind", "policy_id", "claim_no", name="uq_revisit_one_per_policy"),
        Index("ix_revisit_state_deadline", "state", "next_deadline_at"),
        Index("ix_revisit_state_attempt", "state", "next_attempt_at"),
        Index("ix_revisit_state_first_attempt", "state", "first_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="new_contract", max_length=16)  # new_contract | claim
    policy_id: int = Field(foreign_key="policy.id", index=True)
    policy_no: str = Field(index=True, max_length=40)
    claim_no: str = Field(default="", max_length=40)  # "" for new-contract revisits (keeps the unique key simple)
    branch_code: str = Field(index=True, max_length=32)
    channel: str = Field(max_length=32)
    agent_code: str | None = Field(default=None, max_length=32)
    owner: str | None = None  # e.g. the claim adviser of a large claim

    state: str = Field(default="scheduled", max_length=32)
    classification: str | None = Field(default=None, max_length=16)
    sub_types: list[str] = json_field(list)
    problem_category: str | None = None
    verification_reason: str | None = None
    flags: list[str] = json_field(list)
    failure_reasons: list[str] = json_field(list)
    answers: dict[str, Any] = json_field(dict)

    due_date: date
    cooling_off_start: date | None = None
    cooling_off_end: date | None = None
    cooling_off_rule_version: str | None = None
    special_revisit: bool = False
    supplementary_needed: bool = False  # 补访: success came before the cooling-off period started
    surrender_as_cooling_off_until: date | None = None
    late: bool = False
    priority: int = 0
    # claim revisits (理赔回访, SPEC §2.11): no cooling-off; due by the end of this day (5 working days
    # after closing), and a problem raised on the call runs a 24 h response / 48 h solution clock
    revisit_due_date: date | None = None
    problem_response_due_at: datetime | None = utc_field()
    problem_solution_due_at: datetime | None = utc_field()

    attempt_count: int = 0
    attempts_today: int = 0
    attempts_day: date | None = None
    first_attempt_at: datetime | None = utc_field()
    next_attempt_at: datetime | None = utc_field()
    appointment_at: datetime | None = utc_field()
    # the next cooling-off deadline the revisit-sweep fires (ladder_jump → cooling_off_deadline_near →
    # cooling_off_expired), planned backwards from cooling_off_end; None once all have fired or closed
    next_deadline_at: datetime | None = utc_field()
    deadline_event: str | None = Field(default=None, max_length=32)
    recall_count: int = 0
    claimed_by: str | None = None  # the call agent GET /queue/next handed it to
    claimed_until: datetime | None = utc_field()
    extra: dict[str, Any] | None = nullable_json_field()

    version: int = 1
    created_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()


class CallAttempt(SQLModel, table=True):
    __tablename__ = "call_attempt"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="revisit_case.id", index=True)
    at: datetime = utc_field(nullable=False)
    agent: str | None = None
    outcome: str = Field(max_length=32)
    answers: dict[str, Any] = json_field(dict)
    appointment_at: datetime | None = utc_field()
    note: str | None = None


class WorkOrder(SQLModel, table=True):
    """A branch work order (工单) with a working-day deadline (SPEC §2.8)."""

    __tablename__ = "work_order"
    __table_args__ = (Index("ix_work_order_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="revisit_case.id", index=True)
    kind: str = Field(max_length=32)  # failed_followup | verification | problem | substandard_remark | resign
    branch_code: str = Field(index=True, max_length=32)
    state: str = Field(default="open", max_length=32)
    issued_at: datetime = utc_field(nullable=False)
    due_at: datetime = utc_field(nullable=False)
    second_communication: bool = False
    result: dict[str, Any] = json_field(dict)
    explanation: str | None = None
    version: int = 1
    created_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
