"""Revisit services: call attempts (SPEC §2.7), events with what follows them (§2.6–2.8), work-order effects.

Each function checks the rules, then sends the event through the engine with the columns and rows the
transition brings (work orders, outbox messages) — one transaction, committed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import as_utc, local, local_date
from core.settings import Settings
from domain import classification as cl
from domain import revisit_rules as rules
from domain.complaints import open_complaint
from domain.penalties import record_proxy_signature_penalties, release_commission_hold
from domain.work_orders import OPEN_STATES as OPEN_ORDER_STATES
from domain.work_orders import create_work_order, notice, withdraw_orders
from domain.work_orders import due_at as wo_due_at
from models import CallAttempt, Policy, RevisitCase, WorkOrder
from statemachines.engine import (
    CaseNotFound,
    EventNotAllowed,
    Message,
    Rejected,
    StaleVersion,
    apply_event,
    allowed_events,
    queue_message,
)

OUTCOMES = cl.OUTCOMES
PHONE_STATES = rules.PHONE_STATES
# states a call attempt can be recorded in: the phone rungs, and HQ's follow-up call of a problem case
ATTEMPT_STATES = (*PHONE_STATES, "follow_up_call")
# outcomes of a follow-up call attempt that reached nobody who can answer: counted and spaced
FOLLOW_UP_RETRY_OUTCOMES = ("no_answer", "busy", "not_policyholder")
# outcomes that end the follow-up by phone: the branch takes it on by letter / on-site
FOLLOW_UP_UNREACHABLE_OUTCOMES = ("wrong_number", "refused", "language_barrier")
# SPEC §2.7 ladder: HQ phone → branch verifies → HQ phone again (settings.ladder_phone_recalls) → letter / on-site.


@dataclass
class Ctx:
    """Who and when, and the rules in force: passed down so that nothing here reads a clock."""

    now: datetime
    actor: str
    settings: Settings
    calendar: WorkdayCalendar
    flow_run_id: str | None = None
    events: list[str] = field(default_factory=list)


def _load(session: Session, case_id: int) -> RevisitCase:
    """The case, locked on PostgreSQL: the version checked here is the one every later step of the request
    sees (two agents recording an attempt at once: one wins, the other gets 409)."""
    stmt = select(RevisitCase).where(RevisitCase.id == case_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.execute(stmt).scalars().first()
    if case is None:
        raise CaseNotFound("revisit", case_id)
    return case


def _check_version(case: RevisitCase, expected_version: int | None) -> None:
    if expected_version is not None and case.version != expected_version:
        raise StaleVersion(expected_version, case.version)


def _send(session: Session, case: RevisitCase, event: str, ctx: Ctx, **kw: Any) -> None:
    apply_event(
        session,
        kind="revisit",
        case_id=case.id,
        event=event,
        actor=ctx.actor,
        now=ctx.now,
        flow_run_id=ctx.flow_run_id,
        commit=False,
        **kw,
    )
    ctx.events.append(event)


def _issue(session: Session, case: RevisitCase, kind: str, ctx: Ctx, **kw: Any) -> WorkOrder:
    order = create_work_order(
        session, case=case, kind=kind, now=ctx.now, actor=ctx.actor, calendar=ctx.calendar, settings=ctx.settings, **kw
    )
    queue_message(session, notice(order), kind="work_order", case_id=order.id, now=ctx.now)
    return order


# --- call attempts -----------------------------------------------------------------------------------


def record_attempt(
    session: Session,
    *,
    case_id: int,
    outcome: str,
    answers: Mapping[str, str] | None,
    details: Mapping[str, Any] | None,
    appointment_at: datetime | None,
    expected_version: int | None,
    ctx: Ctx,
) -> RevisitCase:
    """Record one call attempt and move the case as its outcome says; everything or nothing."""
    try:
        case = _load(session, case_id)
        _check_version(case, expected_version)
        if case.state not in ATTEMPT_STATES:
            raise EventNotAllowed("attempt", case.state, allowed_events("revisit", case))
        _check_attempt_allowed(case, ctx)
        policy = session.get(Policy, case.policy_id)
        assert policy is not None
        if outcome not in OUTCOMES:
            raise Rejected(f"unknown outcome {outcome!r}; outcomes: {', '.join(OUTCOMES)}")
        if case.state == "follow_up_call":
            _follow_up_attempt(session, case, outcome, details, appointment_at, ctx)
            session.commit()
            return _load(session, case_id)
        try:
            verdict = cl.classify_revisit(
                kind=case.kind,
                outcome=outcome,
                answers=answers or {},
                product_type=policy.product_type,
                payment_mode=policy.payment_mode,
                details=details,
                settings=ctx.settings,
            )
        except ValueError as exc:
            raise Rejected(str(exc)) from None
        today = local_date(ctx.now)
        counters = _counters(case, today)
        session.add(
            CallAttempt(
                case_id=case.id,
                at=ctx.now,
                agent=ctx.actor,
                outcome=outcome,
                answers=dict(answers or {}),
                appointment_at=appointment_at,
                note=(details or {}).get("note") if isinstance(details, Mapping) else None,
            )
        )
        if outcome == "appointment" or (verdict.not_policyholder and appointment_at is not None):
            _book_appointment(session, case, appointment_at, counters, ctx)
        elif verdict.cls is None:
            _attempt_failed(session, case, outcome, counters, ctx)
        else:
            _classified(session, case, policy, verdict, counters, ctx, details)
        session.commit()
        return _load(session, case_id)
    except BaseException:
        session.rollback()
        raise


def _check_attempt_allowed(case: RevisitCase, ctx: Ctx) -> None:
    """Due date, callable hours, the daily cap and the spacing (SPEC §2.2, §2.7); an appointment overrides spacing."""
    s = ctx.settings
    if local_date(ctx.now) < case.due_date:
        # 清单抽取: not before its extraction day (the customer may not even hold the contract yet)
        raise Rejected(f"this revisit is due from {case.due_date}; it cannot be called before")
    if not rules.is_callable(ctx.now, s):
        raise Rejected(
            f"calls are made only between {s.callable_from:%H:%M} and {s.callable_until:%H:%M} Asia/Shanghai; "
            f"it is {local(ctx.now):%H:%M}"
        )
    today = local_date(ctx.now)
    if case.attempts_day == today and case.attempts_today >= s.max_attempts_per_day:
        raise Rejected(f"this case has had its {s.max_attempts_per_day} attempts today; call again tomorrow")
    if case.appointment_at is not None and ctx.now >= as_utc(case.appointment_at):
        return
    if case.next_attempt_at is not None and ctx.now < as_utc(case.next_attempt_at):
        raise Rejected(f"the next attempt is allowed from {local(case.next_attempt_at).isoformat()}")


def _counters(case: RevisitCase, today: Any) -> dict[str, Any]:
    today_count = case.attempts_today + 1 if case.attempts_day == today else 1
    return {
        "attempt_count": case.attempt_count + 1,
        "attempts_today": today_count,
        "attempts_day": today,
    }


def _book_appointment(
    session: Session, case: RevisitCase, appointment_at: datetime | None, counters: dict[str, Any], ctx: Ctx
) -> None:
    """预约回访: at the customer's time, inside callable hours, before the cooling-off end."""
    if appointment_at is None:
        raise Rejected("an appointment needs 'appointment_at'")
    when = as_utc(appointment_at)
    s = ctx.settings
    if when <= ctx.now:
        raise Rejected("the appointment time must be in the future")
    if not rules.is_callable(when, s):
        raise Rejected(
            f"the appointment {local(when):%Y-%m-%d %H:%M} is outside callable hours "
            f"{s.callable_from:%H:%M}–{s.callable_until:%H:%M} Asia/Shanghai"
        )
    if case.cooling_off_end is not None:
        # the ladder is planned backwards (SPEC §2.7): a phone appointment must leave the letter / on-site rung
        # its working days before the cooling-off end
        jump = dict(rules.cooling_off_deadlines(case.cooling_off_end, ctx.calendar, s))["ladder_jump"]
        if when >= jump:
            raise Rejected(
                f"the appointment must come before {local(jump):%Y-%m-%d %H:%M}: the cooling-off period ends "
                f"{case.cooling_off_end} and a letter / on-site revisit needs its last "
                f"{s.ladder_letter_onsite_workdays} working days"
            )
    if case.revisit_due_date is not None and local_date(when) > case.revisit_due_date:
        # a claim revisit is due within 5 working days of closing (SPEC §2.11)
        raise Rejected(f"the appointment must fall on or before the claim revisit's last day {case.revisit_due_date}")
    # the customer was reached and chose a time: if that call fails, the unreached window starts again
    changes = {**counters, "appointment_at": when, "next_attempt_at": when, "claimed_by": None, "first_attempt_at": None}
    _send(session, case, "book_appointment", ctx, payload={"appointment_at": when}, changes=changes)


def _attempt_failed(
    session: Session, case: RevisitCase, outcome: str, counters: dict[str, Any], ctx: Ctx
) -> None:
    """No answer, busy, someone else answered: space the next try; the budget exhausted → verification."""
    s = ctx.settings
    if counters["attempt_count"] >= s.attempt_budget:
        _send(session, case, "attempt_failed", ctx, payload={"outcome": outcome}, changes=counters)
        to_verification(session, case, "unreachable", ctx, event="attempt_window_expired")
        return
    nxt = rules.next_attempt_at(outcome, ctx.now, counters["attempts_today"], s)
    changes = {
        **counters,
        "next_attempt_at": nxt,
        "first_attempt_at": case.first_attempt_at or ctx.now,
        "claimed_by": None,
    }
    if case.appointment_at is not None and ctx.now >= as_utc(case.appointment_at):
        # the appointment was kept (and missed): it must not waive the spacing of every later attempt
        changes["appointment_at"] = None
    _send(session, case, "attempt_failed", ctx, payload={"outcome": outcome}, changes=changes)


def _follow_up_attempt(
    session: Session,
    case: RevisitCase,
    outcome: str,
    details: Mapping[str, Any] | None,
    appointment_at: datetime | None,
    ctx: Ctx,
) -> None:
    """An attempt of HQ's follow-up call (SPEC §2.8) that did not get the policyholder's answer.

    No answer / busy / someone else: counted against the attempt budget and spaced as every attempt
    (SPEC §2.7), the case stays in ``follow_up_call``; the budget spent → ``follow_up_unreachable``.
    Wrong number / refused / language barrier: the phone cannot finish it → ``follow_up_unreachable`` at
    once. Either way the branch gets the 1-working-day failed-revisit order and the letter questionnaire
    goes out (不成功件 → 信函/上门, as for the first call's ladder). A call that reached the policyholder is
    recorded with its result instead: follow_up_understood / follow_up_not_understood / confirm_misleading.
    """
    if outcome not in (*FOLLOW_UP_RETRY_OUTCOMES, *FOLLOW_UP_UNREACHABLE_OUTCOMES):
        raise Rejected(
            f"a follow-up call that reached the policyholder is recorded with its result: send "
            f"follow_up_understood, follow_up_not_understood or confirm_misleading (POST /revisits/{case.id}/events/…); "
            f"attempts record only {', '.join((*FOLLOW_UP_RETRY_OUTCOMES, *FOLLOW_UP_UNREACHABLE_OUTCOMES))} here"
        )
    if appointment_at is not None:
        raise Rejected("a follow-up call takes no appointment; record the failed attempt without 'appointment_at'")
    counters = _counters(case, local_date(ctx.now))
    session.add(
        CallAttempt(
            case_id=case.id, at=ctx.now, agent=ctx.actor, outcome=outcome, answers={}, appointment_at=None,
            note=(details or {}).get("note") if isinstance(details, Mapping) else None,
        )
    )
    if outcome in FOLLOW_UP_UNREACHABLE_OUTCOMES:
        _send(session, case, "attempt_failed", ctx, payload={"outcome": outcome}, changes=counters)
        escalate_to_letter(session, case, f"follow-up call: {outcome}", ctx, event="follow_up_unreachable")
        return
    s = ctx.settings
    if counters["attempt_count"] >= s.attempt_budget:
        _send(session, case, "attempt_failed", ctx, payload={"outcome": outcome}, changes=counters)
        escalate_to_letter(
            session, case, f"follow-up call: not reached after {counters['attempt_count']} attempts", ctx,
            event="follow_up_unreachable",
        )
        return
    changes = {
        **counters,
        "next_attempt_at": rules.next_attempt_at(outcome, ctx.now, counters["attempts_today"], s),
        "first_attempt_at": case.first_attempt_at or ctx.now,
        "claimed_by": None,
    }
    _send(session, case, "attempt_failed", ctx, payload={"outcome": outcome}, changes=changes)


def _classified(
    session: Session,
    case: RevisitCase,
    policy: Policy,
    verdict: cl.Classification,
    counters: dict[str, Any],
    ctx: Ctx,
    details: Mapping[str, Any] | None = None,
) -> None:
    common = {
        **counters,
        "classification": verdict.cls,
        "sub_types": list(verdict.sub_types),
        "problem_category": verdict.problem_category,
        "next_attempt_at": None,
        "appointment_at": None,
        "claimed_by": None,
    }
    payload: dict[str, Any] = {"classification": verdict.cls, "sub_types": list(verdict.sub_types)}
    if verdict.address_changed and verdict.new_address:
        policy.holder_address = verdict.new_address
        session.add(policy)
        payload["new_address"] = verdict.new_address
    if case.kind == "claim" and verdict.cls != cl.VERIFICATION:
        # the claim call was made within its limit (SPEC §2.11): revisit_deadline_missed must not fire any more
        common.update(deadline_event=CLAIM_CALL_MADE, next_deadline_at=None)
    if verdict.cls == cl.VERIFICATION:
        session.flush()
        to_verification(session, case, verdict.verification_reason or "unreachable", ctx, changes=common)
        return
    if verdict.cls == cl.STANDARD:
        _send(session, case, "classify_standard", ctx, payload=payload, changes=common)
        _success(session, case, policy, "close", ctx)
    elif verdict.cls == cl.SUBSTANDARD:
        # a success too: late marks ride the classifying transition (audited with it), and one before the
        # cooling-off period started needs its supplementary revisit (补访) — the remark is due either way
        supplementary = _needs_supplementary(case, policy, ctx)
        marks = {} if supplementary else _success_marks(case, ctx)
        _send(session, case, "classify_substandard", ctx, payload=payload, changes={**common, **marks})
        _issue(session, case, "substandard_remark", ctx)
        if supplementary:
            _require_supplementary(session, case, policy, ctx)
    elif verdict.cls == cl.PROBLEM:
        payload["problem_category"] = verdict.problem_category
        if verdict.proxy_signature:
            payload["proxy_signature"] = list(verdict.proxy_signature)
            payload["proxy_signed_by"] = verdict.proxy_signed_by
        _send(session, case, "classify_problem", ctx, payload=payload, changes=common)
        if case.kind == "claim":
            # one track: the post-claim complaint (24 h / 48 h) is the follow-up, not a branch problem order;
            # the revisit moves on when that complaint closes (domain.claims.post_claim_problem_closed)
            _post_claim_problem(session, case, verdict, details, ctx)
            return
        kind = "resign" if verdict.problem_category == cl.PROXY_SIGNATURE else "problem"
        order = _issue(session, case, kind, ctx)
        if verdict.problem_category == cl.PROXY_SIGNATURE:
            # the policyholder confirmed on the recorded call that someone else signed: the point of
            # confirmation for the penalties of SPEC §2.10 (the re-signing order just issued is theirs)
            record_proxy_signature_penalties(
                session, ctx=ctx, case=case, case_kind="revisit",
                signed_by=verdict.proxy_signed_by or "customer_side", resign_order=order,
            )


CLAIM_CALL_MADE = "done"  # domain.sweep.DONE: no deadline event left for the case (sweep imports this module)


def _post_claim_problem(
    session: Session, case: RevisitCase, verdict: cl.Classification, details: Mapping[str, Any] | None, ctx: Ctx
) -> None:
    """A problem on the claim revisit call runs the post-claim 24 h / 48 h clocks (SPEC §2.11)."""
    from domain.claim_classification import raised_problem
    from domain.claims import REVISIT_TOUCH, raise_post_claim_problem

    content = raised_problem(details) or f"claim revisit classified as a problem ({verdict.problem_category})"
    raise_post_claim_problem(session, ctx=ctx, revisit=case, touch_kind=REVISIT_TOUCH, content=content)


def _success(session: Session, case: RevisitCase, policy: Policy, event: str, ctx: Ctx) -> None:
    """A successful revisit: closed, unless it came before the cooling-off period (补访)."""
    if _needs_supplementary(case, policy, ctx):
        _require_supplementary(session, case, policy, ctx)
        return
    marks = _success_marks(case, ctx)
    _send(session, case, event, ctx, changes={"closed_at": ctx.now, "next_deadline_at": None, **marks})


def _needs_supplementary(case: RevisitCase, policy: Policy, ctx: Ctx) -> bool:
    return case.kind == "new_contract" and rules.needs_supplementary(local_date(ctx.now), policy.receipt_signed_date)


def _require_supplementary(session: Session, case: RevisitCase, policy: Policy, ctx: Ctx) -> None:
    """补访: back to ``scheduled``, due again the day the cooling-off period starts."""
    signed = policy.receipt_signed_date
    wait = timedelta(days=ctx.settings.due_days_after_issue_without_receipt)
    again = signed + timedelta(days=1) if signed is not None else local_date(ctx.now) + wait
    _send(
        session,
        case,
        "require_supplementary",
        ctx,
        payload={"reason": "the revisit succeeded before the cooling-off period started (补访)"},
        changes={
            "supplementary_needed": True, "classification": None, "due_date": again,
            "next_attempt_at": None, "appointment_at": None, "claimed_by": None,
            # the supplementary revisit is a new revisit: its own attempt window, budget and ladder
            "first_attempt_at": None, "attempt_count": 0, "recall_count": 0,
        },
    )


def _success_marks(case: RevisitCase, ctx: Ctx) -> dict[str, Any]:
    """The columns a success sets; after the period: surrender as in cooling-off for 7 days (SPEC §2.3)."""
    until = rules.surrender_as_cooling_off_until(local_date(ctx.now), case.cooling_off_end, ctx.settings)
    marks: dict[str, Any] = {"supplementary_needed": False}
    if until is not None:
        marks.update({"surrender_as_cooling_off_until": until, "late": True})
    return marks


def to_verification(
    session: Session,
    case: RevisitCase,
    reason: str,
    ctx: Ctx,
    *,
    event: str = "classify_verification",
    changes: Mapping[str, Any] | None = None,
) -> None:
    """核实件: branch verifies the contact (3 working days) — unless the ladder has no room for it, or the
    branch has verified it before and HQ's re-call failed too (SPEC §2.7: then letter / on-site)."""
    step = rules.branch_verification_fits(local_date(ctx.now), case.cooling_off_end, ctx.calendar, ctx.settings)
    recalls = ctx.settings.ladder_phone_recalls
    body = {**(changes or {}), "classification": cl.VERIFICATION, "verification_reason": reason}
    _send(session, case, event, ctx, payload={"reason": reason}, changes=body)
    if case.recall_count >= recalls:
        escalate_to_letter(
            session, case,
            f"HQ phone rungs exhausted: the branch verified the contact and the re-call failed too ({reason})", ctx,
        )
        return
    if not step.fits:
        escalate_to_letter(session, case, step.reason or "no time left", ctx)
        return
    _issue(session, case, "verification", ctx)


def escalate_to_letter(
    session: Session, case: RevisitCase, reason: str, ctx: Ctx, *, event: str = "escalate_to_letter"
) -> None:
    """信函 / 上门回访 by the branch, with the 1-working-day failed-revisit order (SPEC §2.8)."""
    _send(
        session,
        case,
        event,
        ctx,
        payload={"reason": reason},
        changes={"next_attempt_at": None, "appointment_at": None, "claimed_by": None},
    )
    _issue(session, case, "failed_followup", ctx, note=reason)
    withdraw_orders(
        session, case_ids=[case.id], kinds=("verification",), now=ctx.now, actor=ctx.actor,
        reason="the revisit went to letter / on-site: the contact verification is no longer needed",
        flow_run_id=ctx.flow_run_id,
    )
    queue_message(
        session,
        Message(
            channel="letter",
            template="revisit_letter",
            recipient=f"policy:{case.policy_no}",
            context={"case_id": case.id, "policy_no": case.policy_no},
            # one letter per trip to letter / on-site (a supplementary revisit may take the case there again)
            dedupe_key=f"revisit:{case.id}:letter:v{case.version}",
        ),
        kind="revisit",
        case_id=case.id,
        now=ctx.now,
    )


# --- other declared events, with what follows them ------------------------------------------------------


def send_event(
    session: Session,
    *,
    case_id: int,
    event: str,
    payload: Mapping[str, Any],
    expected_version: int | None,
    ctx: Ctx,
) -> RevisitCase:
    """Any declared revisit event from the API, with its consequences (work orders, complaint link)."""
    try:
        case = _load(session, case_id)
        _check_version(case, expected_version)
        policy = session.get(Policy, case.policy_id)
        assert policy is not None
        body = dict(payload)
        if event == "follow_up_understood":
            _success(session, case, policy, "follow_up_understood", ctx)
        elif event == "follow_up_not_understood":
            # 二次沟通解释件: a new 3-working-day order
            _send(session, case, event, ctx, payload=body)
            _issue(session, case, "problem", ctx, second_communication=True)
        elif event == "letter_or_onsite_success":
            _success(session, case, policy, event, ctx)
        elif event == "close_failed":
            reasons = body.get("reasons")
            _send(
                session, case, event, ctx, payload=body,
                changes={"failure_reasons": list(reasons) if isinstance(reasons, list) else [], "closed_at": ctx.now,
                         "next_deadline_at": None},
            )
        elif event == "escalate_to_letter":
            reason = str(body.get("reason") or "").strip()
            if not reason:
                raise Rejected("this event needs a 'reason'")
            escalate_to_letter(session, case, reason, ctx)
        elif event == "confirm_misleading":
            _send(session, case, event, ctx, payload=body)
            _open_misleading_sale_complaint(session, case, policy, str(body.get("reason") or ""), ctx)
        elif event == "cancel":
            _send(session, case, event, ctx, payload=body, changes={"closed_at": ctx.now, "next_deadline_at": None})
            _cancel_open_orders(session, case, f"the revisit was cancelled: {body.get('reason')}", ctx)
        else:
            _send(session, case, event, ctx, payload=body)
        session.commit()
        return _load(session, case_id)
    except BaseException:
        session.rollback()
        raise


def _open_misleading_sale_complaint(session: Session, case: RevisitCase, policy: Policy, reason: str, ctx: Ctx) -> None:
    """销售误导 confirmed: a complaint/quality case linked to the revisit and the agent, in this transaction."""
    open_complaint(
        session, ctx=ctx, source="misleading_sale", channel="revisit",
        complainant_name=policy.holder_name or case.policy_no, complainant_phone=policy.holder_phone,
        content=f"misleading sale confirmed by revisit {case.id}: {reason}", category="sales_misleading",
        policy_no=case.policy_no, revisit_case_id=case.id, agent_code=case.agent_code, accused=case.agent_code,
    )


def _cancel_open_orders(session: Session, case: RevisitCase, reason: str, ctx: Ctx) -> None:
    """A cancelled revisit leaves the branch nothing to do: its open orders must not go overdue."""
    open_ids = session.execute(
        select(WorkOrder.id).where(WorkOrder.case_id == case.id, WorkOrder.state.in_(OPEN_ORDER_STATES))
    ).scalars().all()
    for order_id in open_ids:
        apply_event(
            session, kind="work_order", case_id=order_id, event="cancel", actor=ctx.actor, now=ctx.now,
            payload={"reason": reason}, changes={"closed_at": ctx.now}, flow_run_id=ctx.flow_run_id, commit=False,
        )


# --- work orders and what their completion means for the revisit ------------------------------------


def send_work_order_event(
    session: Session,
    *,
    order_id: int,
    event: str,
    payload: Mapping[str, Any],
    expected_version: int | None,
    ctx: Ctx,
) -> WorkOrder:
    """A work-order event; an accepted order moves its revisit on (SPEC §2.8 'done when')."""
    try:
        result = apply_event(
            session,
            kind="work_order",
            case_id=order_id,
            event=event,
            actor=ctx.actor,
            now=ctx.now,
            expected_version=expected_version,
            payload=payload,
            changes=_order_changes(event, payload, ctx, session.get(WorkOrder, order_id)),
            flow_run_id=ctx.flow_run_id,
            commit=False,
        )
        order: WorkOrder = result.case
        if event == "accept":
            _order_accepted(session, order, ctx)
        session.commit()
        session.refresh(order)
        return order
    except BaseException:
        session.rollback()
        raise


def _order_changes(event: str, payload: Mapping[str, Any], ctx: Ctx, order: WorkOrder | None = None) -> dict[str, Any]:
    if event == "return_to_branch" and order is not None:
        # HQ sends the work back: the branch gets the kind's working days again, counted from today (an order
        # submitted in time must not be overdue, nor quality-listed, the moment it comes back)
        return {"due_at": wo_due_at(order.kind, ctx.now, ctx.calendar, ctx.settings), "explanation": None}
    if event == "submit":
        # the changes are built before the machine's validator runs: a result that is no object ("done", a list)
        # must reach needs_result, which rejects it, rather than fail dict() here (a 500)
        result = payload.get("result")
        return {"result": dict(result) if isinstance(result, dict) else {}}
    if event == "explain":
        return {"explanation": str(payload.get("explanation"))}
    if event in ("accept", "cancel"):
        return {"closed_at": ctx.now}
    return {}


def _order_accepted(session: Session, order: WorkOrder, ctx: Ctx) -> None:
    case = _load(session, order.case_id)
    policy = session.get(Policy, case.policy_id)
    assert policy is not None
    result = dict(order.result or {})
    if order.kind == "verification":
        new_phone = rules.normalise_phone(result.get("phone"))
        if new_phone:
            if not rules.phone_valid(new_phone, ctx.settings):
                raise Rejected(f"the verified phone {new_phone!r} is not a valid number")
            policy.holder_phone = new_phone
            session.add(policy)
        if case.state == "verification":
            # correct contact recorded → HQ re-call scheduled (the next callable moment)
            _send(
                session, case, "contact_fixed", ctx, payload={"work_order_id": order.id, "phone": new_phone or None},
                changes={
                    "next_attempt_at": rules.into_callable_hours(ctx.now, ctx.settings),
                    "recall_count": case.recall_count + 1,
                    # a new phone rung: the attempt budget starts again, but not the day's cap (3 a day per
                    # case, SPEC §2.7) — attempts_today / attempts_day carry on
                    "attempt_count": 0,
                    "first_attempt_at": None,
                },
            )
    elif order.kind in ("problem", "resign"):
        if order.kind == "resign":
            release_commission_hold(session, order=order, now=ctx.now)  # re-signed: commission paid out again
        if case.state in ("problem", "second_communication"):
            # the follow-up call is a new phone rung: its own attempt budget (not the day's cap, SPEC §2.7)
            _send(session, case, "explanation_recorded", ctx, payload={"work_order_id": order.id},
                  changes={"next_attempt_at": rules.into_callable_hours(ctx.now, ctx.settings),
                           "attempt_count": 0, "first_attempt_at": None})
    elif order.kind == "substandard_remark":
        if case.state == "substandard":
            _send(session, case, "remark_recorded", ctx, payload={"work_order_id": order.id, "remark": result},
                  changes={"closed_at": ctx.now, "next_deadline_at": None})
