"""Every message the sweeps queue renders and goes out: revisit-sweep → send-notifications, nothing failed."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from core.settings import get_settings
from domain.claim_import import import_claims
from domain.claim_intake import claims_revisit_intake
from domain.revisits import Ctx
from flows.notifications import send_notifications_flow
from flows.sweep import revisit_sweep_flow
from models import OutboxMessage
from tests.domain.test_attempts import CAL, end_of, sh
from tests.factories import claim_payload, make_policy, make_revisit, make_work_order


def test_what_the_revisit_sweep_queues_is_rendered_and_sent(session: Session) -> None:
    holder = make_policy(session, holder_address="上海市浦东新区世纪大道1号")  # the letter needs an address
    jumper = make_revisit(session, policy=holder, state="calling", cooling_off_end=date(2026, 10, 8))
    order_case = make_revisit(session, state="verification", cooling_off_end=None)
    make_work_order(session, case=order_case, due_at=end_of(date(2026, 9, 30)))
    policy = make_policy(session)
    session.commit()
    import_claims(session=session, records=[claim_payload(policy.policy_no, claim_no="C7", closed_date="2026-09-29")],
                  actor="user:admin", now=sh(date(2026, 9, 29), 18))
    session.commit()
    claims_revisit_intake(
        session, ctx=Ctx(now=sh(date(2026, 9, 30), 6, 30), actor="flow:claims", settings=get_settings(), calendar=CAL)
    )
    session.commit()

    for moment in (sh(date(2026, 9, 28), 0), sh(date(2026, 9, 29), 0), sh(date(2026, 10, 1), 0),
                   sh(date(2026, 10, 9), 0), sh(date(2026, 10, 13), 0)):
        revisit_sweep_flow.fn(as_of=moment)
    templates = Counter(session.execute(select(OutboxMessage.template)).scalars())
    session.rollback()
    assert {"revisit_escalation", "revisit_letter", "revisit_late", "work_order_notice", "work_order_overdue"} <= set(
        templates
    )
    # the care SMS of the claim's touches wait for their own day; everything else is due now
    summary = send_notifications_flow.fn(as_of=sh(date(2026, 11, 30), 9))
    failed = session.execute(select(OutboxMessage.template, OutboxMessage.last_error).where(OutboxMessage.state == "failed")).all()
    session.rollback()
    assert summary["failed"] == 0, failed
    states = Counter(session.execute(select(OutboxMessage.state)).scalars())
    assert states == {"sent": sum(templates.values())}
    folder = get_settings().outbox_folder / "internal"
    texts = [p.read_text(encoding="utf-8") for p in folder.glob("*.txt")]
    claim_late = [t for t in texts if "【理赔回访逾期】" in t]
    assert len(claim_late) == 1 and "理赔号:C7" in claim_late[0] and "回访时限:2026年10月12日" in claim_late[0]
    late = [t for t in texts if "【犹豫期后回访】" in t]
    assert len(late) == 1 and f"回访案件:{jumper.id}" in late[0] and "犹豫期截止:2026年10月08日" in late[0]
