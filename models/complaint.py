"""Complaints (投诉, SPEC §2.12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.common import json_field, utc_field


class Complaint(SQLModel, table=True):
    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_state_deadline", "state", "next_deadline_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)  # hotline | email | counter | online | regulator
    complainant_name: str
    complainant_phone: str | None = None
    policy_no: str | None = Field(default=None, index=True)
    content: str
    category: str = Field(max_length=64)
    urgency: str = Field(default="normal", max_length=16)  # normal | urgent
    accused: str | None = None  # the person complained about (回避)
    revisit_case_id: int | None = Field(default=None, foreign_key="revisit_case.id")
    agent_code: str | None = None
    # where it came from: customer (a complaint made), misleading_sale (a revisit confirmed it, SPEC §2.8),
    # post_claim (a problem raised after a claim, SPEC §2.11 — its own 24 h / 48 h clocks)
    source: str = Field(default="customer", max_length=16)
    claim_no: str | None = Field(default=None, max_length=40)

    state: str = Field(default="received", max_length=32)
    owner: str | None = None  # 首问责任人
    pending_owner: str | None = None
    received_at: datetime = utc_field(nullable=False)
    ack_due_at: datetime | None = utc_field()
    feedback_due_at: datetime | None = utc_field()
    reply_due_at: datetime | None = utc_field()
    next_deadline_at: datetime | None = utc_field()
    acknowledged_at: datetime | None = utc_field()
    responded_at: datetime | None = utc_field()
    # the report's "on time" (SPEC §2.12 regulatory limit): the first reply and the limit counted from receipt
    # (15 days, or as extended), neither moved by a reopening, which restarts only the working reply clock
    first_responded_at: datetime | None = utc_field()
    regulatory_due_at: datetime | None = utc_field()
    root_cause: str | None = Field(default=None, max_length=16)  # process | service_norms | people | systems
    satisfaction: int | None = None  # 1–5, asked with the result
    reopen_count: int = 0
    extension_count: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = utc_field()
    # when the complainant was last told of progress; the 2-working-day feedback clock stops at the first
    feedback_given_at: datetime | None = utc_field()
    # the reply clock runs from receipt, or from the latest reopening (a dissatisfied complainant's new round)
    reply_started_at: datetime | None = utc_field()
    # how many thresholds of each clock were acted on: 1 = 50 % warned, 2 = 75 % warned, 3 = escalated at 100 %
    # (settings.complaint_warning_fractions + the deadline); a warning is never sent twice for one due time
    ack_alert: int = 0
    feedback_alert: int = 0
    reply_alert: int = 0
    # the earliest due time of a running clock (queue order, ``overdue``); next_deadline_at is the sweep's
    next_due_at: datetime | None = utc_field(index=True)
    details: dict[str, Any] = json_field(dict)

    version: int = 1
    created_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
