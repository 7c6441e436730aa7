"""Timed moves of the call queue, set-based (the flows call these; SPEC §2.2, §2.7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from core.clock import as_utc, local_date
from domain.revisits import Ctx, _load, escalate_to_letter
from models import CallAttempt, RevisitCase
from statemachines.engine import Message, apply_bulk, enqueue


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
            .where(RevisitCase.state == "scheduled", RevisitCase.due_date <= today,
                   RevisitCase.special_revisit.is_(False))
            .order_by(RevisitCase.id),
            ctx.settings.sweep_batch_size,
        )
        if not ids:
            session.commit()  # end the read: on SQLite an open transaction holds the database's write lock
            return total + _special_to_letter(session, today=today, ctx=ctx)
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
            if event == "appointment_due":
                remind_owners(session, case_ids=[d.case_id for d in done], ctx=ctx)
            session.commit()
            counts[event] += len(done)
    session.commit()  # end the last read: on SQLite an open transaction holds the database's write lock
    return counts


def remind_owners(session: Session, *, case_ids: list[int], ctx: Ctx) -> int:
    """预约回访: the agent who booked the customer's time is reminded that it has come (one query, one insert)."""
    if not case_ids:
        return 0
    latest = (
        select(CallAttempt.case_id, func.max(CallAttempt.id).label("attempt_id"))
        .where(CallAttempt.case_id.in_(case_ids), CallAttempt.outcome == "appointment")
        .group_by(CallAttempt.case_id)
        .subquery()
    )
    rows = session.execute(
        select(RevisitCase.id, RevisitCase.policy_no, RevisitCase.appointment_at, CallAttempt.agent)
        .join(latest, latest.c.case_id == RevisitCase.id)
        .join(CallAttempt, CallAttempt.id == latest.c.attempt_id)
    ).all()
    items = []
    for case_id, policy_no, appointment_at, agent in rows:
        if not agent or appointment_at is None:
            continue
        when = as_utc(appointment_at)
        owner = agent if agent.startswith("user:") else f"user:{agent}"
        items.append((
            Message("internal", "callback_reminder", owner,
                    {"case_id": case_id, "policy_no": policy_no, "appointment_at": when, "owner": agent},
                    dedupe_key=f"revisit:{case_id}:callback:{when.isoformat()}"),
            "revisit", case_id,
        ))
    return enqueue(session, items, now=ctx.now)


def _special_to_letter(session: Session, *, today: Any, ctx: Ctx) -> int:
    """A special revisit (特殊回访件: deaf, abroad…) that falls due again — a supplementary revisit — goes to
    letter / on-site, never to the phone queue (SPEC §2.7). Rare: one case at a time through the engine."""
    ids = list(session.execute(
        select(RevisitCase.id).where(RevisitCase.state == "scheduled", RevisitCase.due_date <= today,
                                     RevisitCase.special_revisit.is_(True))
    ).scalars())
    for case_id in ids:
        try:
            escalate_to_letter(session, _load(session, case_id),
                               "special revisit (特殊回访件): letter / on-site, not the phone", ctx)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return len(ids)

