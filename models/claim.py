"""Claims as fed from the claims system, and the post-claim care touches (理赔回访, SPEC §2.11, §4.1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from models.common import utc_field


class Claim(SQLModel, table=True):
    """One claim (理赔案件) as the last import described it; re-imports are audited (case_kind="claim")."""

    __tablename__ = "claim"
    __table_args__ = (
        Index("ix_claim_state_closed", "state", "closed_date"),
        Index("ix_claim_state_stage", "state", "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_no: str = Field(unique=True, max_length=40)
    policy_no: str = Field(index=True, max_length=40)
    claimant_name: str
    claimant_phone: str | None = None
    claim_type: str = Field(max_length=32)  # medical | critical_illness | death | disability | …
    amount: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    state: str = Field(max_length=16)  # in_progress | closed (the claims system's, not a machine's)
    closed_date: date | None = None
    stage: str | None = Field(default=None, max_length=32)
    handler: str | None = None

    version: int = 1
    imported_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()


class CareTouch(SQLModel, table=True):
    """A post-claim care contact (理赔关怀): closing day, +7 days, +1 month (SPEC §2.11)."""

    __tablename__ = "care_touch"
    __table_args__ = (
        UniqueConstraint("revisit_case_id", "kind", name="uq_care_touch_per_revisit"),
        Index("ix_care_touch_state_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    revisit_case_id: int = Field(foreign_key="revisit_case.id", index=True)
    claim_no: str = Field(index=True, max_length=40)
    kind: str = Field(max_length=16)  # day0 | week1 | month1
    due_date: date
    due_at: datetime = utc_field(nullable=False)  # the due date's opening of callable hours
    state: str = Field(default="scheduled", max_length=16)  # scheduled | done | missed (statemachines/care_touch.py)
    channel: str | None = Field(default=None, max_length=16)  # phone | sms, as recorded
    result: str | None = None
    satisfaction: int | None = None  # 1–5
    problem: str | None = None
    response_due_at: datetime | None = utc_field()  # a problem raised here: 24 h response clock
    solution_due_at: datetime | None = utc_field()  # … and 48 h solution clock
    recorded_by: str | None = None
    recorded_at: datetime | None = utc_field()

    version: int = 1
    created_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
