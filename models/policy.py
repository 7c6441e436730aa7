"""Policies as imported (SPEC §2.1, §4.1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Numeric
from sqlmodel import Column, Field, SQLModel

from models.common import utc_field


class Policy(SQLModel, table=True):
    __tablename__ = "policy"

    id: int | None = Field(default=None, primary_key=True)
    policy_no: str = Field(unique=True, max_length=40)
    product_code: str = Field(max_length=40)
    product_type: str = Field(max_length=32)  # traditional | participating | universal | investment_linked
    line: str = Field(max_length=16)  # life | health | accident
    term_years: int
    channel: str = Field(max_length=32)  # agency | bancassurance | telesales | online
    premium: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    payment_mode: str = Field(max_length=16)  # single | annual | semiannual | quarterly | monthly
    payment_years: int | None = None
    cooling_off_days: int | None = None
    issue_date: date
    print_date: date | None = None
    receipt_signed_date: date | None = None
    receipt_entered_date: date | None = None
    special_revisit: bool = False
    holder_is_natural_person: bool = True

    holder_name: str
    holder_gender: str | None = None
    holder_birth_date: date | None = None
    holder_id_number: str | None = None
    holder_phone: str | None = Field(default=None, index=True)
    holder_address: str | None = None
    holder_opted_out: bool = False

    insured_name: str | None = None
    insured_gender: str | None = None
    insured_birth_date: date | None = None
    insured_id_number: str | None = None
    insured_phone: str | None = None
    insured_address: str | None = None

    agent_code: str = Field(index=True, max_length=32)
    branch_code: str = Field(index=True, max_length=32)

    version: int = 1  # bumped on every re-import that changes the policy (audited)
    imported_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
