"""A problem on the claim revisit call runs on one track (SPEC §2.11): the post-claim complaint (24 h / 48 h)
is the follow-up — no branch problem order — the on-time call stops the 5-working-day limit, and the revisit
closes when the complaint closes.

Claims C1 and C2 close Tue 2026-09-29; their revisits are due by the end of Mon 10-12 (09-30, 10-08, 10-09,
10-10 make-up Saturday, 10-12). C1 is called on 10-12 at 10:00 and raises a problem; C2 is never called.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from core.settings import get_settings
from domain import complaints as svc
from domain import sweep
from domain.claim_import import import_claims
from domain.claim_intake import claims_revisit_intake
from domain.revisits import Ctx, record_attempt
from domain.timers import open_due_cases
from models import AuditEntry, Complaint, OutboxMessage, RevisitCase, WorkOrder
from tests.domain.test_attempts import CAL, ctx, end_of, sh
from tests.domain.test_complaints import event, to_responded
from tests.factories import claim_payload, make_policy

CLAIM_ANSWERS = {"identity": "yes", "service_satisfaction": 1, "liability_clear": "yes", "staff_attitude": "poor"}


def claim_revisits(session: Session) -> dict[str, RevisitCase]:
    policy = make_policy(session)
    session.commit()
    records = [claim_payload(policy.policy_no, claim_no=no, closed_date="2026-09-29") for no in ("C1", "C2")]
    import_claims(session=session, records=records, now=sh(date(2026, 9, 29), 18), actor="flow:claims")
    session.commit()
    claims_revisit_intake(session, ctx=Ctx(now=sh(date(2026, 9, 30), 6, 30), actor="flow:claims",
                                           settings=get_settings(), calendar=CAL))
    session.commit()
    rows = session.execute(select(RevisitCase).where(RevisitCase.kind == "claim")).scalars().all()
    session.commit()
    return {r.claim_no: r for r in rows}


def sweep_at(session: Session, now) -> None:  # type: ignore[no-untyped-def]
    session.rollback()
    sweep.run_sweep(session, ctx=ctx(now, "flow:revisit-sweep"))
    session.expire_all()


def test_a_claim_revisit_problem_is_one_post_claim_complaint_and_never_late(session: Session) -> None:
    cases = claim_revisits(session)
    assert cases["C1"].revisit_due_date == date(2026, 10, 12)
    session.rollback()
    open_due_cases(session, ctx=ctx(sh(date(2026, 10, 12), 7), "flow:callback-dispatch"))  # the calls open
    session.expire_all()
    case = session.get(RevisitCase, cases["C1"].id)
    assert case.state == "calling"
    case = record_attempt(
        session, case_id=case.id, outcome="connected", answers=CLAIM_ANSWERS,
        details={"problem": "payment slow"}, appointment_at=None, expected_version=case.version,
        ctx=ctx(sh(date(2026, 10, 12), 10)),
    )
    assert (case.state, case.classification) == ("problem", "problem")
    assert (case.deadline_event, case.next_deadline_at) == ("done", None)  # the call was made in time
    assert session.execute(select(WorkOrder).where(WorkOrder.case_id == case.id)).scalars().all() == []
    (complaint,) = session.execute(select(Complaint).where(Complaint.revisit_case_id == case.id)).scalars().all()
    assert (complaint.source, complaint.channel) == ("post_claim", "claim_revisit")
    session.commit()

    # the limit's boundary: the uncalled C2 turns late from 10-13 00:00, the called C1 never does
    sweep_at(session, end_of(date(2026, 10, 12)))
    assert session.get(RevisitCase, cases["C2"].id).late is False
    sweep_at(session, sh(date(2026, 10, 13), 0))
    sweep_at(session, sh(date(2026, 10, 19), 12))
    assert session.get(RevisitCase, cases["C2"].id).late is True
    assert session.get(RevisitCase, case.id).late is False
    late = session.execute(select(OutboxMessage.case_id).where(OutboxMessage.template == "revisit_late")).scalars()
    assert list(late) == [cases["C2"].id]
    assert session.execute(select(WorkOrder)).scalars().all() == []
    session.commit()

    # the complaint is solved, its follow-up revisit made, closed: the claim revisit closes with it
    to_responded(session, complaint.id, sh(date(2026, 10, 13), 9))
    event(session, complaint.id, "start_follow_up", sh(date(2026, 10, 13), 15))
    event(session, complaint.id, "close", sh(date(2026, 10, 13), 16), follow_up_result="payment received")
    case = session.get(RevisitCase, case.id, populate_existing=True)
    assert (case.state, case.closed_at, case.late) == ("closed_success", sh(date(2026, 10, 13), 16), False)
    trail = session.execute(
        select(AuditEntry.event, AuditEntry.payload).where(AuditEntry.case_kind == "revisit",
                                                           AuditEntry.case_id == case.id)
        .order_by(AuditEntry.version)
    ).all()
    assert [e for e, _ in trail][-2:] == ["explanation_recorded", "follow_up_understood"]
    assert trail[-1][1] == {"complaint_id": complaint.id, "follow_up_result": "payment received"}


def test_a_care_touch_complaint_leaves_the_claim_revisit_alone(session: Session) -> None:
    cases = claim_revisits(session)
    c = svc.open_complaint(
        session, ctx=ctx(sh(date(2026, 10, 12), 10), "flow:claims"), source="post_claim", channel="care_touch",
        complainant_name="李雷", content="short payment", category="claim_service", revisit_case_id=cases["C1"].id,
        claim_no="C1",
    )
    session.commit()
    to_responded(session, c.id, sh(date(2026, 10, 12), 11))
    event(session, c.id, "start_follow_up", sh(date(2026, 10, 12), 12))
    event(session, c.id, "close", sh(date(2026, 10, 12), 13), follow_up_result="ok")
    revisit = session.get(RevisitCase, cases["C1"].id, populate_existing=True)
    assert (revisit.state, revisit.closed_at) == (cases["C1"].state, None)
