"""Claims → claim revisits and care touches (``claims-revisit-intake``, SPEC §2.11, §5), set-based.

Four passes, each in batches of ``settings.sweep_batch_size`` with a commit per batch, each selecting
only what is still missing — so a second run for the same moment creates nothing:

1. closed claims without a claim revisit → revisits due by the end of the 5th working day after closing;
2. claims in progress at a configured stage (``settings.claim_revisit_stages``) → revisits, counted from
   the day the intake first sees them at that stage;
3. closed claims whose revisit has no care touches yet → the three touches (day0, week1, month1);
4. one ``claim_care`` SMS per new touch, queued with the touch's due time as ``next_try_at``.

A claim whose policy is not on file waits (counted) until the policy feed brings it.

How a claim revisit sits among the new-contract ones: no cooling-off (those columns stay null);
``due_date`` is the day after closing (the queue opens it then), ``revisit_due_date`` its last day, and
``next_deadline_at`` the first instant after that day with ``deadline_event = revisit_deadline_missed`` —
the indexed deadline the revisit-sweep fires (late, supervisor told). The call queue orders by
``coalesce(cooling_off_end, revisit_due_date)``, so a claim revisit competes on its own deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlmodel import Session

from core.clock import end_of_day, local_date, start_of_day
from domain import claims as rules
from domain import revisit_rules
from domain.revisits import Ctx
from models import AuditEntry, CareTouch, Claim, OutboxMessage, Policy, RevisitCase


@dataclass
class ClaimIntakeResult:
    closed_revisits: int = 0
    stage_revisits: int = 0
    touches: int = 0
    messages: int = 0
    large: int = 0
    waiting_for_policy: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _open_load(session: Session, advisers: list[str]) -> dict[str, int]:
    """Open claim revisits per adviser (the round-robin's load)."""
    if not advisers:
        return {}
    rows = session.execute(
        select(RevisitCase.owner, func.count())
        .where(RevisitCase.kind == "claim", RevisitCase.owner.in_(advisers),
               RevisitCase.state.not_in(revisit_rules.CLOSED_STATES))
        .group_by(RevisitCase.owner)
    ).all()
    return {owner: n for owner, n in rows}


def _pending_claims(session: Session, *, closed: bool, stages: list[str], after: int, limit: int) -> list[Any]:
    """Claims (with their policy) that need a revisit and have none, in id order."""
    has_revisit = and_(RevisitCase.kind == "claim", RevisitCase.claim_no == Claim.claim_no)
    cond = Claim.state == "closed" if closed else and_(Claim.state == "in_progress", Claim.stage.in_(stages))
    stmt = (
        select(Claim, Policy)
        .join(Policy, Policy.policy_no == Claim.policy_no)
        .outerjoin(RevisitCase, has_revisit)
        .where(cond, RevisitCase.id.is_(None), Claim.id > after)
        .order_by(Claim.id)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def _create_revisits(session: Session, *, ctx: Ctx, closed: bool, result: ClaimIntakeResult) -> int:
    s, today = ctx.settings, local_date(ctx.now)
    load = _open_load(session, s.claim_advisers)
    created_total, after = 0, 0
    while True:
        batch = _pending_claims(session, closed=closed, stages=s.claim_revisit_stages, after=after,
                                limit=s.sweep_batch_size)
        if not batch:
            break
        after = batch[-1][0].id
        rows: list[dict[str, Any]] = []
        for claim, policy in batch:
            start = claim.closed_date if closed else today
            last = rules.revisit_due_date(start, ctx.calendar, s)
            flags: list[str] = []
            owner = None
            if rules.is_large(claim.amount, s):
                result.large += 1
                flags.append(rules.LARGE_CLAIM)
                owner = rules.pick_adviser(load, s.claim_advisers)
                if owner is None:
                    flags.append(rules.NO_ADVISER)
                else:
                    load[owner] = load.get(owner, 0) + 1
            rows.append({
                "kind": "claim", "policy_id": policy.id, "policy_no": policy.policy_no, "claim_no": claim.claim_no,
                "branch_code": policy.branch_code, "channel": policy.channel, "agent_code": policy.agent_code,
                "owner": owner, "state": "scheduled", "flags": flags, "sub_types": [], "failure_reasons": [],
                "answers": {}, "due_date": start + timedelta(days=1) if closed else today,
                "revisit_due_date": last, "next_deadline_at": start_of_day(last + timedelta(days=1)),
                "deadline_event": "revisit_deadline_missed",
                "version": 1, "created_at": ctx.now, "updated_at": ctx.now,
            })  # fmt: skip
        created = session.execute(
            insert(RevisitCase).returning(RevisitCase.id, RevisitCase.claim_no, sort_by_parameter_order=True), rows
        ).all()
        session.execute(insert(AuditEntry), [
            {"case_kind": "revisit", "case_id": case_id, "version": 1, "event": "created", "source": "",
             "target": "scheduled", "actor": ctx.actor, "at": ctx.now,
             "payload": {"claim_no": claim_no, "from": "closed" if closed else "stage"}, "flow_run_id": ctx.flow_run_id}
            for case_id, claim_no in created
        ])  # fmt: skip
        session.commit()
        created_total += len(created)
    session.commit()  # end the last read: on SQLite an open transaction holds the write lock
    return created_total


def _create_touches(session: Session, *, ctx: Ctx, result: ClaimIntakeResult) -> None:
    s = ctx.settings
    while True:
        has_touch = select(CareTouch.id).where(CareTouch.revisit_case_id == RevisitCase.id).exists()
        batch = session.execute(
            select(RevisitCase.id, RevisitCase.claim_no, RevisitCase.policy_no, Claim.closed_date, Claim.claimant_name,
                   Claim.claimant_phone)
            .join(Claim, Claim.claim_no == RevisitCase.claim_no)
            .where(RevisitCase.kind == "claim", Claim.state == "closed", ~has_touch)
            .order_by(RevisitCase.id)
            .limit(s.sweep_batch_size)
        ).all()  # fmt: skip
        if not batch:
            break
        rows = [
            {"revisit_case_id": case_id, "claim_no": claim_no, "kind": kind, "due_date": day,
             "due_at": rules.touch_due_at(day, s), "state": "scheduled", "version": 1, "created_at": ctx.now,
             "updated_at": ctx.now}
            for case_id, claim_no, _, closed, _, _ in batch
            for kind, day in rules.touch_dates(closed, s).items()
        ]  # fmt: skip
        touches = session.execute(
            insert(CareTouch).returning(CareTouch.id, CareTouch.revisit_case_id, CareTouch.kind, CareTouch.due_at,
                                        sort_by_parameter_order=True), rows
        ).all()  # fmt: skip
        people = {case_id: (claim_no, policy_no, name, phone) for case_id, claim_no, policy_no, _, name, phone in batch}
        messages = []
        for touch_id, case_id, kind, due_at in touches:
            claim_no, policy_no, name, phone = people[case_id]
            messages.append({
                "dedupe_key": f"claim_care:{touch_id}", "channel": "sms", "template": "claim_care",
                # the claimant may not be the policyholder: their own number when the feed gives one
                "recipient": f"phone:{phone}" if phone else f"policy:{policy_no}",
                "context": {"claim_no": claim_no, "customer_name": name, "touch": kind},
                "case_kind": "care_touch", "case_id": touch_id, "state": "pending", "attempts": 0,
                # sent when the touch falls due — or at once, in callable hours, if that moment has passed
                "next_try_at": max(due_at, revisit_rules.into_callable_hours(ctx.now, s)),
                "created_at": ctx.now,
            })  # fmt: skip
        session.execute(insert(OutboxMessage), messages)
        session.commit()
        result.touches += len(touches)
        result.messages += len(messages)
    session.commit()


def _waiting_for_policy(session: Session) -> int:
    stmt = (
        select(func.count())
        .select_from(Claim)
        .outerjoin(Policy, Policy.policy_no == Claim.policy_no)
        .outerjoin(RevisitCase, and_(RevisitCase.kind == "claim", RevisitCase.claim_no == Claim.claim_no))
        .where(Policy.id.is_(None), RevisitCase.id.is_(None))
    )
    n = session.execute(stmt).scalar_one()
    session.commit()
    return n


def claims_revisit_intake(session: Session, *, ctx: Ctx) -> ClaimIntakeResult:
    """Create what is missing: claim revisits (closed, at a stage), care touches, their SMS."""
    result = ClaimIntakeResult()
    result.closed_revisits = _create_revisits(session, ctx=ctx, closed=True, result=result)
    result.stage_revisits = _create_revisits(session, ctx=ctx, closed=False, result=result)
    _create_touches(session, ctx=ctx, result=result)
    result.waiting_for_policy = _waiting_for_policy(session)
    return result
