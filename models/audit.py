"""The append-only audit trail and the notification outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import json_field, utc_field


class AuditEntry(SQLModel, table=True):
    """One transition of one case. (kind, id, version) is unique: no gap, no duplicate."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("case_kind", "case_id", "version", name="uq_audit_case_version"),
        Index("ix_audit_case", "case_kind", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_kind: str = Field(max_length=32)
    case_id: int
    version: int  # the case's version after this transition
    event: str = Field(max_length=64)
    source: str = Field(max_length=32)
    target: str = Field(max_length=32)
    actor: str = Field(max_length=100)
    at: datetime = utc_field(nullable=False, index=True)
    payload: dict[str, Any] = json_field(dict)
    flow_run_id: str | None = Field(default=None, max_length=64)


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the transaction that caused it; ``id`` is the idempotency key."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_state_next", "state", "next_try_at"),
        Index("ix_outbox_channel_sent", "channel", "sent_at"),  # the per-channel rate window
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    channel: str = Field(max_length=16)  # sms | email | letter | internal
    template: str = Field(max_length=64)
    recipient: str = Field(max_length=200)
    context: dict[str, Any] = json_field(dict)
    case_kind: str | None = Field(default=None, max_length=32)
    case_id: int | None = None
    state: str = Field(default="pending", max_length=16)  # pending | sent | failed
    attempts: int = 0
    next_try_at: datetime | None = utc_field()
    last_error: str | None = None
    created_at: datetime = utc_field(nullable=False)
    sent_at: datetime | None = utc_field()
    claimed_until: datetime | None = utc_field()  # a sender holds the row until then (lease)
    delivery_ref: str | None = Field(default=None, max_length=200)  # file path, Message-ID or gateway id
