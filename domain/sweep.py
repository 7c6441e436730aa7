"""The revisit sweep (SPEC §5 ``revisit-sweep``): every due timed event of the revisit and work-order machines.

Set-based: each step selects due ids through an indexed deadline column, applies the machine's derived
transition with ``apply_bulk`` (one audit row per transition), adds what follows (work orders, outbox rows)
and commits — one batch, one transaction. A batch that fails is rolled back, reported and skipped; the other
batches go on (the flow then fails visibly). A batch that is done is never redone: every step selects by
state and deadline, and a transition moves the row out of its own selection, so a re-run for the same
``as_of`` finds nothing, and a run killed between batches is finished by the next one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, literal, select, update
from sqlmodel import Session

from core.clock import end_of_day, local_date, start_of_day
from core.db import UTCDateTime, is_transient
from domain import revisit_rules as rules
from domain.revisits import Ctx
from domain.work_orders import issue_bulk, withdraw_orders
from models import RevisitCase, WorkOrder
from statemachines.engine import Message, apply_bulk, enqueue, enqueue_from, key_of
from statemachines.revisit import RevisitMachine

# every state a revisit can still move from (the machine's non-final states)
OPEN_STATES = tuple(s.id for s in RevisitMachine.states if not s.final)
WINDOW_STATES = ("calling", "recall")  # an appointment is a contact made: its window is the customer's time
OVERDUE_FROM = ("open", "in_progress", "returned")  # the sources of WorkOrderMachine.mark_overdue

BatchHook = Callable[[str, int], None]
DONE = "done"  # deadline_event once every cooling-off deadline of the case has fired


@dataclass
class SweepReport:
    """What one sweep did, for the artifacts and the domain events."""

    as_of: datetime
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, event) → transitions
    by_branch: Counter[tuple[str, str]] = field(default_factory=Counter)  # (branch, event) → transitions
    escalated: list[dict[str, Any]] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)
    overdue_orders: list[dict[str, Any]] = field(default_factory=list)
    work_orders_issued: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    batches: int = 0
    armed: int = 0
    errors: list[str] = field(default_factory=list)

    def absorb(self, other: SweepReport) -> None:
        self.counts.update(other.counts)
        self.by_branch.update(other.by_branch)
        self.escalated.extend(other.escalated)
        self.late.extend(other.late)
        self.overdue_orders.extend(other.overdue_orders)
        self.work_orders_issued.update(other.work_orders_issued)
        self.messages += other.messages
        self.batches += other.batches
        self.armed += other.armed
        self.errors.extend(other.errors)

    def count(self, kind: str, event: str, branches: Iterable[str]) -> None:
        for branch in branches:
            self.counts[(kind, event)] += 1
            self.by_branch[(branch, event)] += 1


def _batches(
    session: Session,
    stmt: Any,
    *,
    step: str,
    ctx: Ctx,
    report: SweepReport,
    work: Callable[[list[Any], SweepReport], None],
    on_batch: BatchHook | None,
) -> None:
    """Run ``work`` on each batch of due rows until none is left; a failed batch is reported and skipped."""
    skipped: set[int] = set()
    number = 0
    id_column = stmt.selected_columns[0]
    while True:
        query = stmt.where(id_column.not_in(skipped)) if skipped else stmt
        rows = list(session.execute(query.limit(ctx.settings.sweep_batch_size)).all())
        if not rows:
            session.commit()  # end the read: on SQLite an open transaction holds the write lock
            return
        number += 1
        part = SweepReport(as_of=report.as_of)  # counted only once the batch is committed
        try:
            work(rows, part)
            session.commit()
        except Exception as exc:
            session.rollback()
            if is_transient(exc):
                raise  # the task's retry policy takes it: the batch was rolled back whole
            skipped.update(int(r[0]) for r in rows)
            report.errors.append(f"{step} batch {number} ({len(rows)} rows, ids {rows[0][0]}…): {exc!r}")
            continue
        part.batches += 1
        report.absorb(part)
        if on_batch is not None:
            on_batch(step, number)


def _messages(session: Session, ctx: Ctx, report: SweepReport, items: list[tuple[Message, str, int]]) -> None:
    report.messages += enqueue(session, items, now=ctx.now)


# --- cooling-off deadlines: ladder jump, near, expired (SPEC §2.3, §2.7) ---------------------------------------


def arm_cooling_off_deadlines(session: Session, *, ctx: Ctx, report: SweepReport, on_batch: BatchHook | None = None) -> None:
    """Give each open case with a known cooling-off end its first deadline (cases whose end was just learnt)."""
    stmt = (
        select(RevisitCase.id, RevisitCase.cooling_off_end)
        .where(
            RevisitCase.state.in_(OPEN_STATES),
            RevisitCase.next_deadline_at.is_(None),
            RevisitCase.deadline_event.is_(None),
            RevisitCase.cooling_off_end.is_not(None),
        )
        # ordered by the index's own column: ORDER BY id would make SQLite scan the table by rowid
        .order_by(RevisitCase.next_deadline_at)
    )

    def work(rows: list[Any], report: SweepReport) -> None:
        by_end: dict[date, list[int]] = {}
        for case_id, end in rows:
            by_end.setdefault(end, []).append(case_id)
        _point(session, by_end, None, ctx)
        report.armed += len(rows)

    _batches(session, stmt, step="arm", ctx=ctx, report=report, work=work, on_batch=on_batch)


def _pointer_values(ends: Iterable[date], after: str | None, ctx: Ctx) -> tuple[str, Any]:
    """The next deadline's event (the same for every end date: the order is fixed) and its moment per end date."""
    nexts = {end: rules.next_cooling_off_deadline(end, after, ctx.calendar, ctx.settings) for end in ends}
    events = {event for event, _ in nexts.values()}
    if len(events) != 1:
        raise ValueError(f"cooling-off deadlines after {after!r} differ by end date: {sorted(map(str, events))}")
    event = events.pop()
    if event is None:
        return DONE, None  # not None: an unarmed case is one with no pointer at all
    moment = case(
        *[(RevisitCase.cooling_off_end == end, literal(at, UTCDateTime())) for end, (_, at) in nexts.items()],
        else_=None,
    )
    return event, moment


def _point(session: Session, by_end: dict[date, list[int]], after: str | None, ctx: Ctx) -> None:
    """Move the deadline pointer of cases that did not take the event (their state does not declare it)."""
    ids = [i for group in by_end.values() for i in group]
    if not ids:
        return
    event, moment = _pointer_values(by_end, after, ctx)
    session.execute(
        update(RevisitCase)
        .where(RevisitCase.id.in_(ids))
        .values(deadline_event=event, next_deadline_at=moment)
        .execution_options(synchronize_session=False)
    )


def fire_cooling_off_deadlines(
    session: Session, *, ctx: Ctx, report: SweepReport, on_batch: BatchHook | None = None
) -> None:
    """Fire each case's due cooling-off deadline, then point it at the next one (a late catch-up fires them all)."""
    stmt = (
        select(
            RevisitCase.id, RevisitCase.deadline_event, RevisitCase.cooling_off_end, RevisitCase.branch_code,
            RevisitCase.policy_no, RevisitCase.recall_count,
        )
        .where(RevisitCase.state.in_(OPEN_STATES), RevisitCase.next_deadline_at <= ctx.now)
        .order_by(RevisitCase.next_deadline_at, RevisitCase.id)
    )

    def work(rows: list[Any], report: SweepReport) -> None:
        by_event: dict[str, list[Any]] = {}
        for row in rows:
            by_event.setdefault(row.deadline_event, []).append(row)
        for event, group in by_event.items():
            _fire_deadline(session, event, group, ctx, report)

    _batches(session, stmt, step="cooling_off", ctx=ctx, report=report, work=work, on_batch=on_batch)


CLAIM_DEADLINE = "revisit_deadline_missed"  # a claim revisit's own limit (SPEC §2.11), set at claim intake


def _fire_deadline(session: Session, event: str, rows: list[Any], ctx: Ctx, report: SweepReport) -> None:
    if event == CLAIM_DEADLINE:
        _fire_claim_deadline(session, rows, ctx, report)
        return
    nxt_event, nxt_moment = _pointer_values({r.cooling_off_end for r in rows}, event, ctx)
    values: dict[str, Any] = {"deadline_event": nxt_event, "next_deadline_at": nxt_moment}
    left = ctx.settings.ladder_letter_onsite_workdays
    if event == "ladder_jump":
        values.update(next_attempt_at=None, appointment_at=None, claimed_by=None)
        reason = (
            f"at most {left} working days left before the cooling-off end: no room for another phone rung, "
            "straight to letter / on-site (SPEC §2.7)"
        )
    elif event == "cooling_off_deadline_near":
        values["priority"] = ctx.settings.cooling_off_near_priority
        reason = f"{ctx.settings.cooling_off_near_workdays} working days or fewer left before the cooling-off end"
    else:
        values["late"] = True
        reason = "the cooling-off period ended before the revisit was completed (SPEC §2.3)"
    moved = apply_bulk(
        session, kind="revisit", event=event, case_ids=[r.id for r in rows], actor=ctx.actor, now=ctx.now,
        payload={"reason": reason}, set_values=values, flow_run_id=ctx.flow_run_id,
    )
    moved_ids = {m.case_id for m in moved}
    stay: dict[date, list[int]] = {}
    for r in rows:
        if r.id not in moved_ids:
            stay.setdefault(r.cooling_off_end, []).append(r.id)
    _point(session, stay, event, ctx)
    done = [r for r in rows if r.id in moved_ids]
    report.count("revisit", event, (r.branch_code for r in done))
    if event == "ladder_jump":
        _to_letter(session, done, reason, ctx, report)
        return
    for r in done:
        info = {"case_id": r.id, "policy_no": r.policy_no, "branch": r.branch_code,
                "cooling_off_end": r.cooling_off_end.isoformat()}
        (report.late if event == "cooling_off_expired" else report.escalated).append({**info, "event": event})
    ids = [r.id for r in done]
    if event == "cooling_off_expired":
        report.messages += _case_messages(session, ids, "revisit_late", ("supervisor",), "late", None, ctx)
    else:
        report.messages += _case_messages(session, ids, "revisit_escalation", ("supervisor", "branch"), "near", reason, ctx)


def _fire_claim_deadline(session: Session, rows: list[Any], ctx: Ctx, report: SweepReport) -> None:
    """A claim revisit still open after its working-day limit: late, and the supervisor hears of it."""
    reason = (
        f"the claim revisit was not completed within {ctx.settings.claim_revisit_due_workdays} working days "
        "of closing (SPEC §2.11)"
    )
    moved = apply_bulk(
        session, kind="revisit", event=CLAIM_DEADLINE, case_ids=[r.id for r in rows], actor=ctx.actor, now=ctx.now,
        payload={"reason": reason}, set_values={"late": True, "deadline_event": DONE, "next_deadline_at": None},
        flow_run_id=ctx.flow_run_id,
    )
    moved_ids = {m.case_id for m in moved}
    stay = [r.id for r in rows if r.id not in moved_ids]
    if stay:
        session.execute(
            update(RevisitCase).where(RevisitCase.id.in_(stay)).values(deadline_event=DONE, next_deadline_at=None)
            .execution_options(synchronize_session=False)
        )
    done = [r for r in rows if r.id in moved_ids]
    report.count("revisit", CLAIM_DEADLINE, (r.branch_code for r in done))
    for r in done:
        report.late.append({"case_id": r.id, "policy_no": r.policy_no, "branch": r.branch_code,
                            "cooling_off_end": None, "event": CLAIM_DEADLINE})
    report.messages += enqueue_from(
        session, kind="revisit", case_ids=[r.id for r in done], channel="internal", template="revisit_late",
        recipient=key_of("supervisor:", RevisitCase.branch_code, ""),
        dedupe_key=key_of("revisit:", RevisitCase.id, ":late:supervisor"),
        context={
            "case_id": RevisitCase.id, "policy_no": RevisitCase.policy_no, "branch": RevisitCase.branch_code,
            "cooling_off_end": None, "claim_no": RevisitCase.claim_no, "revisit_due_by": RevisitCase.revisit_due_date,
        },
        now=ctx.now,
    )


def _case_messages(
    session: Session, ids: list[int], template: str, roles: Sequence[str], tag: str, reason: str | None, ctx: Ctx
) -> int:
    """The supervisor (and the branch) hear of each escalated or late case: rows built by the database,
    one INSERT … SELECT per recipient role, deduplicated on ``revisit:<id>:<tag>:<role>``."""
    context: dict[str, Any] = {
        "case_id": RevisitCase.id, "policy_no": RevisitCase.policy_no, "branch": RevisitCase.branch_code,
        "cooling_off_end": RevisitCase.cooling_off_end,
    }
    if reason is not None:
        context["reason"] = reason
    return sum(
        enqueue_from(
            session, kind="revisit", case_ids=ids, channel="internal", template=template,
            recipient=key_of(f"{role}:", RevisitCase.branch_code, ""),
            dedupe_key=key_of("revisit:", RevisitCase.id, f":{tag}:{role}"), context=context, now=ctx.now,
        )
        for role in roles
    )


def _to_letter(session: Session, rows: Sequence[Any], reason: str, ctx: Ctx, report: SweepReport) -> None:
    """What follows a jump to letter / on-site: the branch's 1-working-day order, the letter, the escalation."""
    if not rows:
        return
    issued = issue_bulk(
        session, cases=[(r.id, r.branch_code) for r in rows], kind="failed_followup", now=ctx.now, actor=ctx.actor,
        calendar=ctx.calendar, settings=ctx.settings, note=reason, flow_run_id=ctx.flow_run_id,
    )
    report.work_orders_issued["failed_followup"] += len(issued)
    withdrawn = withdraw_orders(
        session, case_ids=[r.id for r in rows], kinds=("verification",), now=ctx.now, actor=ctx.actor,
        reason="the revisit went to letter / on-site: the contact verification is no longer needed",
        flow_run_id=ctx.flow_run_id,
    )
    if withdrawn:
        report.counts[("work_order", "withdraw")] += withdrawn
    for r in rows:
        end = r.cooling_off_end.isoformat() if r.cooling_off_end else None
        report.escalated.append({"case_id": r.id, "policy_no": r.policy_no, "branch": r.branch_code,
                                 "cooling_off_end": end, "event": "ladder_jump", "reason": reason})
    ids = [r.id for r in rows]
    report.messages += enqueue_from(
        session, kind="revisit", case_ids=ids, channel="letter", template="revisit_letter",
        recipient=key_of("policy:", RevisitCase.policy_no, ""),
        dedupe_key=key_of("revisit:", RevisitCase.id, ":letter:v").concat(cast(RevisitCase.version, String)),
        context={"case_id": RevisitCase.id, "policy_no": RevisitCase.policy_no}, now=ctx.now,
    )
    report.messages += _case_messages(session, ids, "revisit_escalation", ("supervisor", "branch"), "ladder_jump", reason, ctx)


# --- the attempt window (SPEC §2.7: 6 attempts over 3 days) --------------------------------------------------


def expire_attempt_windows(session: Session, *, ctx: Ctx, report: SweepReport, on_batch: BatchHook | None = None) -> None:
    """Not reached within ``attempt_budget_days`` calendar days of the first attempt → verification (核实件)."""
    today = local_date(ctx.now)
    # the window covers the first attempt's day and the days after it, attempt_budget_days in all
    opened_before = start_of_day(today - timedelta(days=ctx.settings.attempt_budget_days - 1))
    stmt = (
        select(
            RevisitCase.id, RevisitCase.branch_code, RevisitCase.policy_no, RevisitCase.cooling_off_end,
            RevisitCase.recall_count,
        )
        .where(RevisitCase.state.in_(WINDOW_STATES), RevisitCase.first_attempt_at < opened_before)
        .order_by(RevisitCase.first_attempt_at)  # the index's column (ix_revisit_state_first_attempt)
    )

    def work(rows: list[Any], report: SweepReport) -> None:
        moved = apply_bulk(
            session, kind="revisit", event="attempt_window_expired", case_ids=[r.id for r in rows], actor=ctx.actor,
            now=ctx.now, flow_run_id=ctx.flow_run_id,
            payload={"reason": "unreachable", "window_days": ctx.settings.attempt_budget_days},
            set_values={
                "classification": "verification", "verification_reason": "unreachable",
                "next_attempt_at": None, "appointment_at": None, "claimed_by": None,
            },
        )
        moved_ids = {m.case_id for m in moved}
        done = [r for r in rows if r.id in moved_ids]
        report.count("revisit", "attempt_window_expired", (r.branch_code for r in done))
        _after_verification(session, done, ctx, report)

    _batches(session, stmt, step="attempt_window", ctx=ctx, report=report, work=work, on_batch=on_batch)

    # the follow-up call of a problem case (SPEC §2.8) has the same window; unreached, the branch takes it on by
    # letter / on-site, as every failed phone revisit (不成功件)
    follow_up = (
        select(
            RevisitCase.id, RevisitCase.branch_code, RevisitCase.policy_no, RevisitCase.cooling_off_end,
            RevisitCase.recall_count,
        )
        .where(RevisitCase.state == "follow_up_call", RevisitCase.first_attempt_at < opened_before)
        .order_by(RevisitCase.first_attempt_at)
    )

    def follow_up_work(rows: list[Any], report: SweepReport) -> None:
        reason = f"follow-up call: not reached within {ctx.settings.attempt_budget_days} days of its first attempt"
        moved = apply_bulk(
            session, kind="revisit", event="follow_up_window_expired", case_ids=[r.id for r in rows],
            actor=ctx.actor, now=ctx.now, flow_run_id=ctx.flow_run_id, payload={"reason": reason},
            set_values={"next_attempt_at": None, "appointment_at": None, "claimed_by": None},
        )
        moved_ids = {m.case_id for m in moved}
        done = [r for r in rows if r.id in moved_ids]
        report.count("revisit", "follow_up_window_expired", (r.branch_code for r in done))
        _to_letter(session, done, reason, ctx, report)

    _batches(session, follow_up, step="follow_up_window", ctx=ctx, report=report, work=follow_up_work,
             on_batch=on_batch)


def _after_verification(session: Session, rows: list[Any], ctx: Ctx, report: SweepReport) -> None:
    """The ladder (SPEC §2.7), as ``domain.revisits.to_verification`` decides it for one case."""
    today = local_date(ctx.now)
    exhausted = [r for r in rows if r.recall_count >= ctx.settings.ladder_phone_recalls]
    no_room = [
        r for r in rows
        if r.recall_count < ctx.settings.ladder_phone_recalls
        and not rules.branch_verification_fits(today, r.cooling_off_end, ctx.calendar, ctx.settings).fits
    ]
    verify = [r for r in rows if r not in exhausted and r not in no_room]
    for group, reason in (
        (exhausted, "HQ phone rungs exhausted: the branch verified the contact and the re-call failed too"),
        (no_room, "no room before the cooling-off end for branch verification and a re-call: letter / on-site"),
    ):
        if not group:
            continue
        moved = apply_bulk(
            session, kind="revisit", event="ladder_jump", case_ids=[r.id for r in group], actor=ctx.actor,
            now=ctx.now, payload={"reason": reason}, flow_run_id=ctx.flow_run_id,
        )
        moved_ids = {m.case_id for m in moved}
        jumped = [r for r in group if r.id in moved_ids]
        report.count("revisit", "ladder_jump", (r.branch_code for r in jumped))
        _to_letter(session, jumped, reason, ctx, report)
    issued = issue_bulk(
        session, cases=[(r.id, r.branch_code) for r in verify], kind="verification", now=ctx.now, actor=ctx.actor,
        calendar=ctx.calendar, settings=ctx.settings, note="unreachable within the attempt window",
        flow_run_id=ctx.flow_run_id,
    )
    report.work_orders_issued["verification"] += len(issued)


# --- work orders: overdue, then the quality list (SPEC §2.8) ---------------------------------------------------


def mark_overdue_work_orders(
    session: Session, *, ctx: Ctx, report: SweepReport, on_batch: BatchHook | None = None
) -> None:
    """Orders past their working-day deadline become overdue; the case records it; branch and supervisor hear."""
    stmt = (
        select(WorkOrder.id, WorkOrder.case_id, WorkOrder.branch_code, WorkOrder.kind, WorkOrder.due_at)
        .where(WorkOrder.state.in_(OVERDUE_FROM), WorkOrder.due_at < ctx.now)  # due_at is the last instant in time
        .order_by(WorkOrder.due_at, WorkOrder.id)
    )

    def work(rows: list[Any], report: SweepReport) -> None:
        moved = apply_bulk(
            session, kind="work_order", event="mark_overdue", case_ids=[r.id for r in rows], actor=ctx.actor,
            now=ctx.now, flow_run_id=ctx.flow_run_id,
        )
        moved_ids = {m.case_id for m in moved}
        done = [r for r in rows if r.id in moved_ids]
        report.count("work_order", "mark_overdue", (r.branch_code for r in done))
        case_ids = sorted({r.case_id for r in done})
        on_case = apply_bulk(
            session, kind="revisit", event="work_order_overdue", case_ids=case_ids, actor=ctx.actor, now=ctx.now,
            payload={"orders": sorted(moved_ids)} if len(moved_ids) <= 50 else {}, flow_run_id=ctx.flow_run_id,
        )
        branch_of = {r.case_id: r.branch_code for r in done}
        report.count("revisit", "work_order_overdue", (branch_of[m.case_id] for m in on_case))
        items: list[tuple[Message, str, int]] = []
        for r in done:
            info = {"order_id": r.id, "kind": r.kind, "case_id": r.case_id, "branch": r.branch_code,
                    "due_at": r.due_at}
            report.overdue_orders.append({**info, "due_at": r.due_at.isoformat(), "event": "mark_overdue"})
            for role in ("branch", "supervisor"):
                items.append((
                    Message("internal", "work_order_overdue", f"{role}:{r.branch_code}", info,
                            dedupe_key=f"work_order:{r.id}:overdue:{role}"),
                    "work_order", r.id,
                ))
        _messages(session, ctx, report, items)

    _batches(session, stmt, step="overdue", ctx=ctx, report=report, work=work, on_batch=on_batch)


def quality_list_cutoff(ctx: Ctx) -> datetime | None:
    """Orders due by this moment had their explanation day too: the latest due day D whose
    ``overdue_explanation_workdays``-th working day after has ended (逾期情况书面说明, SPEC §2.8)."""
    n = ctx.settings.overdue_explanation_workdays
    day = local_date(ctx.now)
    for _ in range(366):
        if end_of_day(ctx.calendar.add_workdays(day, n)) < ctx.now:
            return end_of_day(day)
        day -= timedelta(days=1)
    return None


def quality_list_overdue_orders(
    session: Session, *, ctx: Ctx, report: SweepReport, on_batch: BatchHook | None = None
) -> None:
    """Overdue orders with no written explanation by the end of the next working day go on the quality list."""
    cutoff = quality_list_cutoff(ctx)
    if cutoff is None:
        return
    stmt = (
        select(WorkOrder.id, WorkOrder.case_id, WorkOrder.branch_code, WorkOrder.kind, WorkOrder.due_at)
        .where(and_(WorkOrder.state == "overdue", WorkOrder.due_at <= cutoff))
        .order_by(WorkOrder.due_at, WorkOrder.id)
    )

    def work(rows: list[Any], report: SweepReport) -> None:
        moved = apply_bulk(
            session, kind="work_order", event="quality_list", case_ids=[r.id for r in rows], actor=ctx.actor,
            now=ctx.now, flow_run_id=ctx.flow_run_id,
            payload={"reason": "overdue with no written explanation (逾期情况书面说明)"},
        )
        moved_ids = {m.case_id for m in moved}
        done = [r for r in rows if r.id in moved_ids]
        report.count("work_order", "quality_list", (r.branch_code for r in done))
        items: list[tuple[Message, str, int]] = []
        for r in done:
            info = {"order_id": r.id, "kind": r.kind, "case_id": r.case_id, "branch": r.branch_code,
                    "due_at": r.due_at}
            report.overdue_orders.append({**info, "due_at": r.due_at.isoformat(), "event": "quality_list"})
            items.append((
                Message("internal", "work_order_overdue", "supervisor:quality", {**info, "quality_listed": True},
                        dedupe_key=f"work_order:{r.id}:quality_list"),
                "work_order", r.id,
            ))
        _messages(session, ctx, report, items)

    _batches(session, stmt, step="quality_list", ctx=ctx, report=report, work=work, on_batch=on_batch)


# the steps in the order a sweep runs them: arming first, so that a case learnt today is fired today
STEPS: dict[str, Callable[..., None]] = {
    "arm": arm_cooling_off_deadlines,
    "attempt_window": expire_attempt_windows,
    "cooling_off": fire_cooling_off_deadlines,
    "overdue": mark_overdue_work_orders,
    "quality_list": quality_list_overdue_orders,
}


def run_sweep(session: Session, *, ctx: Ctx, on_batch: BatchHook | None = None) -> SweepReport:
    """Every step once, in order (the flow runs them as tasks; tests and the bench call this)."""
    report = SweepReport(as_of=ctx.now)
    for step in STEPS.values():
        step(session, ctx=ctx, report=report, on_batch=on_batch)
    return report
