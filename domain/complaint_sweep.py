"""The complaint clocks' sweep (complaint-sla-sweep, SPEC §5): warnings at 50 % / 75 %, escalation at 100 %.

Set-based: due rows come from the indexed ``(state, next_deadline_at)``; per batch one bulk escalation per
event (``apply_bulk``, one audit row each), one executemany UPDATE of the alert markers and next marks, one
outbox insert with deterministic dedupe keys — then one commit. A run killed after batch k leaves batches
1..k done and the rest untouched; the next run picks up exactly the rest. A second run for the same
``as_of`` finds nothing due.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlmodel import Session

from domain import complaint_clocks as clocks
from domain.complaints import ESCALATE_TO, MANAGER, escalation_message
from models import Complaint
from statemachines.complaint import OPEN_STATES
from statemachines.engine import Message, apply_bulk, enqueue

if TYPE_CHECKING:
    from domain.revisits import Ctx

COLUMNS = (
    Complaint.id, Complaint.state, Complaint.owner, Complaint.received_at, Complaint.ack_due_at,
    Complaint.acknowledged_at, Complaint.feedback_due_at, Complaint.feedback_given_at, Complaint.reply_due_at,
    Complaint.reply_started_at, Complaint.ack_alert, Complaint.feedback_alert, Complaint.reply_alert,
    Complaint.escalated_to,
)


@dataclass
class SweepResult:
    batches: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    escalations: Counter[str] = field(default_factory=Counter)
    escalated_cases: int = 0
    messages: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "warnings": dict(self.warnings),
            "escalations": dict(self.escalations),
            "escalated_cases": self.escalated_cases,
            "messages": self.messages,
        }


def _percent(level: int, fractions: list[float]) -> int:
    return round(fractions[level - 1] * 100) if level <= len(fractions) else 100


def sweep_complaint_clocks(session: Session, *, ctx: Ctx, after_batch: Any = None) -> SweepResult:
    """Act on every clock threshold reached by ``ctx.now``; ``after_batch(k)`` is a test hook after commit k."""
    s = ctx.settings
    fractions = list(s.complaint_warning_fractions)
    deadline_level = len(fractions) + 1
    result = SweepResult()
    seen: set[int] = set()
    while True:
        stmt = (
            select(*COLUMNS)
            .where(Complaint.state.in_(OPEN_STATES), Complaint.next_deadline_at <= ctx.now)
            .order_by(Complaint.next_deadline_at, Complaint.id)
            .limit(s.sweep_batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            # the batch is read, decided and written under row locks: an API event on one of these rows
            # (which locks it too) waits for this batch's commit, so neither overwrites the other's clocks
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.execute(stmt).all()
        rows = [r for r in rows if r.id not in seen]  # a row that stays due would otherwise loop forever
        if not rows:
            session.commit()  # end the read: on SQLite an open transaction holds the write lock
            return result
        seen.update(r.id for r in rows)
        messages: list[tuple[Message, str, int]] = []
        marks: list[dict[str, Any]] = []
        escalate: dict[str, list[int]] = {"escalate": [], "escalate_again": []}
        for row in rows:
            c = SimpleNamespace(**row._mapping)
            reasons: list[str] = []
            target = c.escalated_to
            for clock in clocks.running_clocks(c):
                reached = clock.reached(ctx.now, fractions)
                for level in range(clock.level + 1, reached + 1):
                    key = f"complaint:{c.id}:{clock.name}:{clock.due.isoformat()}:{level}"
                    if level < deadline_level:
                        result.warnings[clock.name] += 1
                        messages.append((Message(
                            channel="internal", template="complaint_warning",
                            recipient=f"user:{c.owner}" if c.owner else "supervisor:hq",
                            context={"complaint_id": c.id, "clock": clock.name,
                                     "percent": _percent(level, fractions), "due_at": clock.due, "owner": c.owner},
                            dedupe_key=key,
                        ), "complaint", c.id))
                    else:
                        result.escalations[clock.name] += 1
                        reason = f"the {clock.name} limit passed at {clock.due.isoformat()}"
                        reasons.append(reason)
                        target = MANAGER if MANAGER in (target, ESCALATE_TO[clock.name]) else ESCALATE_TO[clock.name]
                        messages.append((escalation_message(
                            c, clock=clock.name, due=clock.due, reason=reason, recipient=ESCALATE_TO[clock.name],
                            key=key,
                        ), "complaint", c.id))
                setattr(c, f"{clock.name}_alert", max(clock.level, reached))
            if reasons:
                escalate["escalate_again" if c.state == "escalated" else "escalate"].append(c.id)
                if c.state != "escalated":
                    c.state = "escalated"  # for the next marks below: the reply clock keeps running there
            nxt, due = clocks.next_marks(c, fractions)
            marks.append({
                "id": c.id, "ack_alert": c.ack_alert, "feedback_alert": c.feedback_alert,
                "reply_alert": c.reply_alert, "next_deadline_at": nxt, "next_due_at": due,
                "escalated_to": target,
            })
        for event, ids in escalate.items():
            if ids:
                done = apply_bulk(
                    session, kind="complaint", event=event, case_ids=ids, actor=ctx.actor, now=ctx.now,
                    flow_run_id=ctx.flow_run_id, set_values={"escalated_at": ctx.now},
                    payload={"reason": "a complaint clock reached its limit"},
                )
                result.escalated_cases += len(done)
        session.execute(update(Complaint), marks)  # executemany by primary key: markers and next marks
        result.messages += enqueue(session, messages, now=ctx.now)
        session.commit()
        result.batches += 1
        if after_batch is not None:
            after_batch(result.batches)


def due_count(session: Session, *, now: datetime) -> int:
    """How many complaints the sweep would act on at ``now`` (for the flow's summary)."""
    from sqlalchemy import func

    n = session.execute(
        select(func.count()).select_from(Complaint)
        .where(Complaint.state.in_(OPEN_STATES), Complaint.next_deadline_at <= now)
    ).scalar_one()
    session.commit()
    return int(n)
