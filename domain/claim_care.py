"""Recording a post-claim care touch (理赔关怀, SPEC §2.11): its result, satisfaction, any problem raised."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from domain.claim_classification import satisfaction as parse_satisfaction
from domain.claims import TOUCH_KINDS, raise_post_claim_problem
from domain.revisits import Ctx
from models import CareTouch, RevisitCase
from statemachines.engine import CaseNotFound, Rejected, apply_event

OUTCOME_EVENTS = {"done": "record_done", "missed": "record_missed"}


def find_touch(session: Session, *, case_id: int, kind: str) -> CareTouch:
    if kind not in TOUCH_KINDS:
        raise Rejected(f"unknown care touch {kind!r}; touches: {', '.join(TOUCH_KINDS)}")
    stmt = select(CareTouch).where(CareTouch.revisit_case_id == case_id, CareTouch.kind == kind)
    touch = session.execute(stmt.execution_options(populate_existing=True)).scalars().first()
    if touch is None:
        raise CaseNotFound("care_touch", case_id)
    return touch


def record_touch(
    session: Session,
    *,
    case_id: int,
    kind: str,
    outcome: str,
    channel: str | None,
    result: str | None,
    satisfaction: int | str | None,
    problem: str | None,
    expected_version: int,
    ctx: Ctx,
) -> CareTouch:
    """Record what a touch achieved; a problem raised in it starts the 24 h / 48 h clocks. All or nothing."""
    try:
        revisit = session.get(RevisitCase, case_id)
        if revisit is None or revisit.kind != "claim":
            raise CaseNotFound("revisit", case_id)
        touch = find_touch(session, case_id=case_id, kind=kind)
        if outcome not in OUTCOME_EVENTS:
            raise Rejected(f"outcome must be one of {', '.join(OUTCOME_EVENTS)}")
        score = None
        if satisfaction is not None:
            try:
                score = parse_satisfaction(satisfaction)
            except ValueError as exc:
                raise Rejected(str(exc)) from None
        text = problem.strip() if problem and problem.strip() else None
        if outcome == "missed" and (score is not None or text):
            raise Rejected("a missed touch reached nobody: it has no satisfaction and no problem")
        apply_event(
            session, kind="care_touch", case_id=touch.id, event=OUTCOME_EVENTS[outcome], actor=ctx.actor,
            now=ctx.now, expected_version=expected_version, flow_run_id=ctx.flow_run_id, commit=False,
            payload={"channel": channel, "result": result, "satisfaction": score, "problem": text},
            changes={"channel": channel, "result": result, "satisfaction": score, "recorded_by": ctx.actor,
                     "recorded_at": ctx.now},
        )  # fmt: skip
        if text:
            raise_post_claim_problem(session, ctx=ctx, revisit=revisit, touch_kind=kind, content=text)
        session.commit()
        session.refresh(touch)
        return touch
    except BaseException:
        session.rollback()
        raise
