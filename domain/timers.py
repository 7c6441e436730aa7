"""Timed moves of the call queue, set-based (the flows call these; SPEC §2.2, §2.7)."""

from __future__ import annotations


from sqlalchemy import select
from sqlmodel import Session

from core.clock import local_date
from domain.revisits import Ctx
from models import RevisitCase
from statemachines.engine import apply_bulk


def _ids(session: Session, stmt, limit: int) -> list[int]:  # type: ignore[no-untyped-def]
    return list(session.execute(stmt.limit(limit)).scalars())


def open_due_cases(session: Session, *, ctx: Ctx) -> int:
    """清单抽取: scheduled cases whose due date has come join the call queue (``open_calls``)."""
    today = local_date(ctx.now)
    total = 0
    while True:
        ids = _ids(
            session,
            select(RevisitCase.id)
            .where(RevisitCase.state == "scheduled", RevisitCase.due_date <= today)
            .order_by(RevisitCase.id),
            ctx.settings.sweep_batch_size,
        )
        if not ids:
            session.commit()  # end the read: on SQLite an open transaction holds the database's write lock
            return total
        done = apply_bulk(
            session, kind="revisit", event="open_calls", case_ids=ids, actor=ctx.actor, now=ctx.now,
            flow_run_id=ctx.flow_run_id, set_values={"next_attempt_at": None},
        )
        session.commit()
        total += len(done)


def release_due_callbacks(session: Session, *, ctx: Ctx) -> dict[str, int]:
    """Due appointments and scheduled re-calls become callable (``appointment_due``, ``recall_due``)."""
    counts: dict[str, int] = {}
    for state, event in (("appointment", "appointment_due"), ("recall", "recall_due")):
        counts[event] = 0
        while True:
            ids = _ids(
                session,
                select(RevisitCase.id)
                .where(RevisitCase.state == state, RevisitCase.next_attempt_at <= ctx.now)
                .order_by(RevisitCase.next_attempt_at),
                ctx.settings.sweep_batch_size,
            )
            if not ids:
                break
            done = apply_bulk(
                session, kind="revisit", event=event, case_ids=ids, actor=ctx.actor, now=ctx.now,
                flow_run_id=ctx.flow_run_id,
            )
            session.commit()
            counts[event] += len(done)
    session.commit()  # end the last read: on SQLite an open transaction holds the database's write lock
    return counts



