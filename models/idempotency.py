"""Responses remembered per ``Idempotency-Key`` so that a retried POST is answered, not re-applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import json_field, utc_field


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    key: str = Field(max_length=200)
    method: str = Field(max_length=8)
    path: str = Field(max_length=300)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: Any = json_field(dict)
    created_at: datetime = utc_field(nullable=False)
