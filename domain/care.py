"""Customer care (客户关怀, SPEC §5 ``customer-care``): birthday and festival greetings by SMS.

A customer is a policyholder, identified by ID number (or, lacking one, by phone) across their
policies. One greeting per customer, occasion and year: the outbox dedupe key is
``care:<occasion>:<year>:<digest of the customer>``, so a re-run (same day or later) queues nothing new.
A customer who opted out (``Policy.holder_opted_out`` on any of their policies) gets nothing.

Birthday on 29 February: greeted on 28 February in a common year
(``settings.care_leap_birthday_on_feb_28``). Festival days come from ``settings.care_festivals``.
"""

from __future__ import annotations

import calendar as std_calendar
import hashlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import extract, func, select, update
from sqlmodel import Session

from core.clock import local_date
from core.settings import FestivalDay, Settings
from models import Policy
from statemachines.engine import Message, enqueue

BIRTHDAY = "birthday"


def customer_key(id_number: str | None, phone: str | None) -> str:
    return f"id:{id_number}" if id_number else f"phone:{phone}"


def dedupe_key(occasion: str, year: int, customer: str) -> str:
    digest = hashlib.sha256(customer.encode()).hexdigest()[:20]  # no ID number in a key that logs show
    return f"care:{occasion}:{year}:{digest}"


def birthday_days(day: date, settings: Settings) -> list[tuple[int, int]]:
    """(month, day) of the birth dates greeted on ``day``."""
    days = [(day.month, day.day)]
    if settings.care_leap_birthday_on_feb_28 and (day.month, day.day) == (2, 28) and not std_calendar.isleap(day.year):
        days.append((2, 29))
    return days


def festivals_on(day: date, settings: Settings) -> list[FestivalDay]:
    return [f for f in settings.care_festivals if f.day == day]


def _reachable() -> Any:
    customer = func.coalesce(Policy.holder_id_number, Policy.holder_phone)
    return (
        select(
            Policy.id, Policy.policy_no, Policy.holder_name, Policy.holder_id_number, Policy.holder_phone,
            Policy.holder_opted_out,
        )
        .where(Policy.holder_is_natural_person.is_(True), Policy.holder_phone.is_not(None))
        .order_by(customer, Policy.policy_no)
    )


def _customers(rows: Iterable[Any]) -> Iterator[Any]:
    """The first policy of each customer who has not opted out on any policy."""
    for _, group in groupby(rows, key=lambda r: customer_key(r.holder_id_number, r.holder_phone)):
        policies = list(group)
        if not any(p.holder_opted_out for p in policies):
            yield policies[0]


def _queue(session: Session, rows: Iterable[Any], *, occasion: str, year: int, context: dict[str, Any],
           template: str, now: datetime, batch_size: int) -> int:
    queued, batch, seen = 0, [], set()
    for row in _customers(rows):
        key = dedupe_key(occasion, year, customer_key(row.holder_id_number, row.holder_phone))
        if key in seen:  # enqueue skips keys already stored, not repeats inside one batch
            continue
        seen.add(key)
        msg = Message(
            channel="sms",
            template=template,
            recipient=f"policy:{row.policy_no}",
            context={"customer_name": row.holder_name, **context},
            dedupe_key=key,
        )
        batch.append((msg, "policy", row.id))
        if len(batch) >= batch_size:
            queued += enqueue(session, batch, now=now)
            session.commit()
            batch = []
    queued += enqueue(session, batch, now=now)
    session.commit()
    return queued


def queue_greetings(session: Session, *, now: datetime, settings: Settings) -> dict[str, int]:
    """Queue today's birthday and festival greetings; returns messages queued per occasion."""
    today = local_date(now)
    out: dict[str, int] = {}
    month_day = [
        (extract("month", Policy.holder_birth_date) == m) & (extract("day", Policy.holder_birth_date) == d)
        for m, d in birthday_days(today, settings)
    ]
    condition = month_day[0] if len(month_day) == 1 else month_day[0] | month_day[1]
    rows = session.execute(_reachable().where(Policy.holder_birth_date.is_not(None), condition)).all()
    out[BIRTHDAY] = _queue(session, rows, occasion=BIRTHDAY, year=today.year, context={},
                           template="birthday_greeting", now=now, batch_size=settings.sweep_batch_size)
    for festival in festivals_on(today, settings):
        rows = session.execute(_reachable()).all()  # columns only: small rows, grouped per customer
        out[festival.key] = _queue(session, rows, occasion=festival.key, year=today.year,
                                   context={"festival": festival.name_zh}, template="festival_greeting",
                                   now=now, batch_size=settings.sweep_batch_size)
    return out


def set_opt_out(session: Session, *, policy_no: str, opted_out: bool = True) -> int:
    """Opt the holder of ``policy_no`` out of (or back into) greetings, on all their policies; commits."""
    policy = session.execute(select(Policy).where(Policy.policy_no == policy_no)).scalars().first()
    if policy is None:
        raise LookupError(f"no policy {policy_no}")
    same_holder = (
        Policy.holder_id_number == policy.holder_id_number
        if policy.holder_id_number
        else Policy.holder_phone == policy.holder_phone
    )
    changed = session.execute(
        update(Policy).where(same_holder | (Policy.id == policy.id)).values(holder_opted_out=opted_out)
    ).rowcount
    session.commit()
    return int(changed or 0)
