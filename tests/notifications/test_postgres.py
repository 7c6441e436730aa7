"""The drain and customer care on PostgreSQL (SKIP LOCKED claims, month/day extraction, two senders)."""

from __future__ import annotations

import threading
from datetime import date, time

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import at_local
from core.settings import get_settings
from domain.care import queue_greetings
from models import OutboxMessage
from notifications import channels
from notifications.outbox import drain
from notifications.recipients import Address
from notifications.render import Rendered
from tests.factories import make_policy
from tests.notifications.helpers import T0, queue

pytestmark = pytest.mark.postgres


class Counting:
    def __init__(self) -> None:
        self.name = "sms"
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        with self.lock:
            self.keys.append(key)
        return key


def test_two_senders_at_once_take_disjoint_rows(pg_session: Session) -> None:
    ids = [queue(pg_session) for _ in range(40)]
    counting = Counting()
    channels.register("sms", counting)
    try:
        s = get_settings().model_copy(update={"outbox_batch_size": 5})
        threads = [threading.Thread(target=drain, kwargs={"as_of": T0, "settings": s}) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        channels.register("sms", None)
    assert sorted(counting.keys, key=int) == [str(i) for i in ids]  # each exactly once
    sent = pg_session.execute(select(func.count()).where(OutboxMessage.state == "sent")).scalar_one()
    assert sent == 40


def test_birthdays_on_postgres(pg_session: Session) -> None:
    make_policy(pg_session, holder_birth_date=date(1992, 2, 29), holder_id_number="LEAP")
    make_policy(pg_session, holder_birth_date=date(1992, 2, 28), holder_id_number="B28")
    pg_session.commit()
    queued = queue_greetings(pg_session, now=at_local(date(2027, 2, 28), time(8)), settings=get_settings())
    assert queued == {"birthday": 2}
