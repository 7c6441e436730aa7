"""Shared builders for the notification tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from core.clock import UTC
from core.settings import Settings, get_settings
from models import OutboxMessage
from statemachines.engine import Message, enqueue

T0 = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # Tue 2026-09-29 10:00 Asia/Shanghai
_keys = itertools.count(1)


def queue(session: Session, *, channel: str = "sms", template: str = "complaint_progress",
          recipient: str = "phone:13800000001", context: dict[str, Any] | None = None,
          now: datetime = T0) -> int:
    """One committed outbox row; returns its id."""
    key = f"test:{next(_keys)}"
    ctx = context if context is not None else {"complaint_id": 31, "complainant_name": "张丽", "note": "已核实"}
    enqueue(session, [(Message(channel, template, recipient, ctx, key), None, None)], now=now)
    session.commit()
    oid = session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).scalar_one()
    session.rollback()  # end the read before a drain writes
    return oid


def row(session: Session, outbox_id: int) -> OutboxMessage:
    session.expire_all()
    found = session.get(OutboxMessage, outbox_id)
    assert found is not None
    session.expunge(found)  # detached: reading it later opens no transaction
    session.rollback()  # end the read: SQLite holds the write lock for any open transaction
    return found


def settings(**over: Any) -> Settings:
    return get_settings().model_copy(update=over)
