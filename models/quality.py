"""Reports and quality management (SPEC §2.10, §2.14): stored reports, agents' months, proxy-signature penalties."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import json_field, utc_field


class MonthlyReport(SQLModel, table=True):
    """One produced report: ``period`` "YYYY-MM" (monthly) or "YYYY" (annual, produced with December's)."""

    __tablename__ = "monthly_report"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(unique=True, max_length=7)
    kind: str = Field(default="monthly", max_length=8)  # monthly | annual
    produced_at: datetime = utc_field(nullable=False)
    figures: dict[str, Any] = json_field(dict)
    html_path: str | None = None
    version: int = 1  # bumped when a re-run finds different figures (each version audited)


class AgentMonth(SQLModel, table=True):
    """An agent's phone-revisit success in one month (SPEC §2.10), with the warning and investigation flags."""

    __tablename__ = "agent_month"
    __table_args__ = (UniqueConstraint("agent_code", "month", name="uq_agent_month"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_code: str = Field(index=True, max_length=32)
    month: str = Field(index=True, max_length=7)
    branch_code: str | None = Field(default=None, max_length=32)
    required: int
    hq_successes: int
    success_rate: float
    below_threshold: bool
    months_running: int  # consecutive calendar months below the threshold, this one included (0 if not below)
    warned: bool = False  # an agent_warning SMS was queued
    investigation: bool = False  # 契约调查: below the threshold for settings.agent_investigation_months running
    computed_at: datetime = utc_field(nullable=False)


class ProxySignatureFinding(SQLModel, table=True):
    """A confirmed proxy signature (代签字) on one case: the rule applied, re-signing and the commission hold."""

    __tablename__ = "proxy_signature_finding"
    __table_args__ = (UniqueConstraint("case_kind", "case_id", name="uq_proxy_finding_case"),)

    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=32)
    case_id: int
    policy_no: str | None = Field(default=None, max_length=40)
    agent_code: str | None = Field(default=None, index=True, max_length=32)
    signed_by: str = Field(max_length=16)  # customer_side | agent (what the call found)
    rule_case: str = Field(max_length=16)  # customer_side | agent_signed | agent_departed (the table row applied)
    month: str = Field(index=True, max_length=7)  # local month of the confirmation
    confirmed_at: datetime = utc_field(nullable=False)
    resign_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    resign_due_at: datetime | None = utc_field()
    commission_held: bool = False  # superseded: the hold is derived as read (domain.penalties.commission_held)
    resigned_at: datetime | None = utc_field()  # the re-signing order was accepted: hold released


class Penalty(SQLModel, table=True):
    """One fine of the proxy-signature rules table (扣罚), to one person."""

    __tablename__ = "penalty"

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="proxy_signature_finding.id", index=True)
    month: str = Field(index=True, max_length=7)
    rule_case: str = Field(max_length=16)
    role: str = Field(max_length=16)  # agent | supervisor | manager
    person_code: str | None = Field(default=None, max_length=32)
    agent_code: str | None = Field(default=None, max_length=32)  # the selling agent the finding is about
    amount_cny: int
    created_at: datetime = utc_field(nullable=False)
