"""Requests to hear a call recording (录音调阅, SPEC §2.13): asked with a reason, approved by the head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.common import utc_field


class RecordingAccessRequest(SQLModel, table=True):
    __tablename__ = "recording_access_request"
    __table_args__ = (Index("ix_recording_access_case", "case_kind", "case_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=32)  # revisit | complaint (the case whose calls are recorded)
    case_id: int
    reason: str
    state: str = Field(default="requested", max_length=16)
    requested_by: str = Field(max_length=100)
    requested_at: datetime = utc_field(nullable=False)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = utc_field()
    decision_note: str | None = None
    access_count: int = 0
    last_accessed_at: datetime | None = utc_field()
    version: int = 1
    created_at: datetime | None = utc_field()
    updated_at: datetime | None = utc_field()
