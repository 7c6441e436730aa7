"""Draining the outbox (SPEC §6): claim due rows, render, send once per outbox id, mark the result.

One batch of one channel at a time:

1. claim (one short transaction): up to ``min(outbox_batch_size, rate capacity left)`` pending rows of
   the channel whose ``next_try_at`` ≤ as_of and whose lease has lapsed get ``claimed_until`` =
   as_of + ``outbox_claim_seconds``; each is resolved and rendered in the same transaction (reads only);
2. send each (no transaction open — on SQLite an open transaction holds the write lock) with the
   outbox id as the idempotency key;
3. mark each (one short transaction per message): ``sent`` with ``sent_at``; or, on a transient
   error, ``attempts`` + 1 and ``next_try_at`` pushed back exponentially (``outbox_backoff_seconds`` ×
   2^(attempts−1), capped at ``outbox_backoff_max_seconds``) until ``outbox_max_attempts``; or
   ``failed`` with ``last_error`` (permanent error, unrenderable, unresolvable, attempts exhausted).

A sender that dies between 2 and 3 leaves the row pending and claimed; once the lease lapses the next
run sends it again under the same key and the channel, which honours the key, delivers nothing new.

Rate limit: a channel sends at most ``outbox_rate_per_minute[channel]`` messages in any minute
(counted from ``sent_at`` in (as_of − 60 s, as_of]); the rest wait, untouched, for the next run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import is_postgres, session_scope
from core.settings import Settings
from models import OutboxMessage
from notifications.channels import PermanentChannelError, TransientChannelError, channel_for
from notifications.enrich import MissingData, enrich
from notifications.recipients import Address, UnresolvableRecipient, resolve
from notifications.render import Rendered, render

RATE_WINDOW = timedelta(minutes=1)  # "per minute" is the unit of outbox_rate_per_minute
SENT, RETRIED, FAILED, WAITING = "sent", "retried", "failed", "waiting"


@dataclass
class Prepared:
    id: int
    channel: str
    template: str
    recipient: str
    attempts: int
    address: Address | None = None
    rendered: Rendered | None = None
    error: str | None = None  # set when it cannot be sent at all (permanent)


@dataclass
class DrainReport:
    """What one run did, per channel — what managers see."""

    as_of: datetime
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def add(self, channel: str, outcome: str, n: int = 1) -> None:
        self.counts.setdefault(channel, Counter())[outcome] += n

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"channel": ch, SENT: c[SENT], RETRIED: c[RETRIED], FAILED: c[FAILED], WAITING: c[WAITING]}
            for ch, c in sorted(self.counts.items())
        ]

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "by_channel": self.rows(),
            **{k: self.total(k) for k in (SENT, RETRIED, FAILED, WAITING)},
            "failures": self.failures,
        }

    def markdown(self) -> str:
        lines = [f"# Notifications {self.as_of:%Y-%m-%d %H:%M} UTC", ""]
        lines.append(f"- sent: {self.total(SENT)}, retried later: {self.total(RETRIED)}, "
                     f"failed: {self.total(FAILED)}, waiting (rate limit): {self.total(WAITING)}")
        lines += ["", "| channel | sent | retried | failed | waiting |", "|---|---|---|---|---|"]
        lines += [f"| {r['channel']} | {r[SENT]} | {r[RETRIED]} | {r[FAILED]} | {r[WAITING]} |" for r in self.rows()]
        if self.failures:
            lines += ["", "## Failed (not retried)", "", "| outbox id | channel | template | recipient | error |",
                      "|---|---|---|---|---|"]
            lines += [
                f"| {f['id']} | {f['channel']} | {f['template']} | {f['recipient']} | {f['error'][:120]} |"
                for f in self.failures
            ]
        return "\n".join(lines) + "\n"


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Delay before the next try after ``attempts`` failed tries (1 → base, 2 → 2×base, …, capped)."""
    seconds = settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.outbox_backoff_max_seconds))


def _due(as_of: datetime) -> Any:
    return (
        (OutboxMessage.state == "pending")
        & or_(OutboxMessage.next_try_at.is_(None), OutboxMessage.next_try_at <= as_of)
        & or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= as_of)
    )


def sent_in_window(session: Session, *, channel: str, as_of: datetime) -> int:
    return session.execute(
        select(func.count()).where(
            OutboxMessage.channel == channel,
            OutboxMessage.state == "sent",
            OutboxMessage.sent_at > as_of - RATE_WINDOW,
            OutboxMessage.sent_at <= as_of,
        )
    ).scalar_one()


def due_channels(session: Session, *, as_of: datetime) -> list[str]:
    return sorted(session.execute(select(OutboxMessage.channel).where(_due(as_of)).distinct()).scalars())


def claim(session: Session, *, channel: str, as_of: datetime, limit: int, settings: Settings) -> list[Prepared]:
    """Lease up to ``limit`` due rows of ``channel`` and prepare them; commits."""
    ids_query = (
        select(OutboxMessage.id)
        .where(_due(as_of), OutboxMessage.channel == channel)
        .order_by(OutboxMessage.next_try_at, OutboxMessage.id)
        .limit(limit)
    )
    if is_postgres(session):
        ids_query = ids_query.with_for_update(skip_locked=True)  # two senders take disjoint rows
    ids = list(session.execute(ids_query).scalars())
    if not ids:
        session.rollback()
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(claimed_until=as_of + timedelta(seconds=settings.outbox_claim_seconds))
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.next_try_at, OutboxMessage.id)
    ).scalars()
    prepared = [prepare(session, row, settings=settings) for row in rows]
    session.commit()
    return prepared


def prepare(session: Session, row: OutboxMessage, *, settings: Settings) -> Prepared:
    """Resolve and render one row; a failure here is permanent (the same data renders the same way)."""
    item = Prepared(id=row.id, channel=row.channel, template=row.template, recipient=row.recipient,  # type: ignore[arg-type]
                    attempts=row.attempts)
    try:
        item.address = resolve(session, recipient=row.recipient, channel=row.channel, settings=settings)
        context = enrich(
            session, template=row.template, recipient=row.recipient, context=dict(row.context),
            address=item.address, settings=settings,
        )
        item.rendered = render(row.template, row.channel, context)
    except (UnresolvableRecipient, MissingData, TemplateError, ValueError, KeyError, TypeError) as exc:
        item.error = f"{exc.__class__.__name__}: {exc}"
    return item


def mark_sent(session: Session, *, outbox_id: int, ref: str, as_of: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "pending")
        .values(state="sent", sent_at=as_of, attempts=OutboxMessage.attempts + 1, claimed_until=None,
                last_error=None, delivery_ref=ref[:200])
    )
    session.commit()


def mark_failed(session: Session, *, outbox_id: int, error: str, attempts: int) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "pending")
        .values(state="failed", attempts=attempts, claimed_until=None, last_error=error)
    )
    session.commit()


def mark_retry(session: Session, *, outbox_id: int, error: str, attempts: int, next_try_at: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "pending")
        .values(attempts=attempts, next_try_at=next_try_at, claimed_until=None, last_error=error)
    )
    session.commit()


def send_one(session: Session, item: Prepared, *, as_of: datetime, settings: Settings, report: DrainReport) -> None:
    attempts = item.attempts + 1
    if item.error is not None:
        _fail(session, item, item.error, attempts, report)
        return
    assert item.address is not None and item.rendered is not None
    try:
        channel = channel_for(item.channel, settings)
        ref = channel.send(key=str(item.id), address=item.address, rendered=item.rendered)
    except PermanentChannelError as exc:
        _fail(session, item, f"permanent: {exc}", attempts, report)
        return
    except Exception as exc:  # transient, or unexpected: either way another try may succeed
        error = f"{exc.__class__.__name__}: {exc}" if not isinstance(exc, TransientChannelError) else str(exc)
        if attempts >= settings.outbox_max_attempts:
            _fail(session, item, f"gave up after {attempts} attempts: {error}", attempts, report)
            return
        mark_retry(session, outbox_id=item.id, error=error, attempts=attempts,
                   next_try_at=as_of + backoff(attempts, settings))
        report.add(item.channel, RETRIED)
        return
    mark_sent(session, outbox_id=item.id, ref=ref, as_of=as_of)
    report.add(item.channel, SENT)


def _fail(session: Session, item: Prepared, error: str, attempts: int, report: DrainReport) -> None:
    mark_failed(session, outbox_id=item.id, error=error, attempts=attempts)
    report.add(item.channel, FAILED)
    report.failures.append(
        {"id": item.id, "channel": item.channel, "template": item.template, "recipient": item.recipient,
         "error": error}
    )


def drain(*, as_of: datetime, settings: Settings, engine: Engine | None = None) -> DrainReport:
    """Send every due message the rate limits allow, batch by batch and channel by channel."""
    report = DrainReport(as_of=as_of)
    with session_scope(engine) as session:
        channels = due_channels(session, as_of=as_of)
        session.rollback()
        for channel in channels:
            rate = settings.outbox_rate_per_minute.get(channel, settings.outbox_batch_size)
            while True:
                capacity = rate - sent_in_window(session, channel=channel, as_of=as_of)
                if capacity <= 0:
                    break
                batch = claim(session, channel=channel, as_of=as_of,
                              limit=min(settings.outbox_batch_size, capacity), settings=settings)
                if not batch:
                    break
                for item in batch:
                    send_one(session, item, as_of=as_of, settings=settings, report=report)
            waiting = session.execute(
                select(func.count()).where(_due(as_of), OutboxMessage.channel == channel)
            ).scalar_one()
            session.rollback()
            if waiting:
                report.add(channel, WAITING, waiting)
            report.counts.setdefault(channel, Counter())
    return report


def failed_messages(session: Session, *, limit: int = 100) -> list[OutboxMessage]:
    """Permanent failures, newest first (what an operator looks at and re-queues by hand)."""
    return list(
        session.execute(
            select(OutboxMessage).where(OutboxMessage.state == "failed").order_by(OutboxMessage.id.desc()).limit(limit)
        ).scalars()
    )


def requeue(session: Session, *, outbox_id: int, now: datetime) -> bool:
    """Send a failed message again from scratch (an operator fixed its cause); commits."""
    moved = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "failed")
        .values(state="pending", attempts=0, next_try_at=now, claimed_until=None)
    ).rowcount
    session.commit()
    return bool(moved)
