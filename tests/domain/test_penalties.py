"""Proxy-signature penalties (代签字, SPEC §2.10): each row of the rules table, re-signing, the commission hold.

The call is made on Tuesday 2026-09-29; the re-signing order's 5 working days are 09-30, 10-08, 10-09,
10-10 (make-up Saturday after National Day) and 10-12 → due at the end of Monday 2026-10-12.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from domain.penalties import commission_held, record_proxy_signature_penalties, statement_due
from domain.revisits import record_attempt, send_work_order_event
from models import Penalty, ProxySignatureFinding, WorkOrder
from statemachines.engine import Rejected
from tests.domain.test_attempts import answers, ctx, end_of, new_case, sh
from tests.factories import make_agent

CALL_DAY = date(2026, 9, 29)
SIGNED = date(2026, 9, 26)


def proxy_call(session: Session, case_id: int, **details: object) -> None:
    record_attempt(
        session, case_id=case_id, outcome="connected", answers=answers(),
        details={"proxy_signature": ["receipt"], **details}, appointment_at=None, expected_version=None,
        ctx=ctx(sh(CALL_DAY, 10)),
    )


def finding_of(session: Session, case_id: int) -> ProxySignatureFinding:
    return session.execute(
        select(ProxySignatureFinding).where(ProxySignatureFinding.case_id == case_id)
    ).scalar_one()


def fines(session: Session, finding: ProxySignatureFinding) -> set[tuple[str, str | None, int]]:
    rows = session.execute(select(Penalty).where(Penalty.finding_id == finding.id)).scalars()
    return {(p.role, p.person_code, p.amount_cny) for p in rows}


def test_customer_side_signature_fines_three_and_holds_commission_until_re_signed(session: Session) -> None:
    case = new_case(session, signed=SIGNED)
    session.commit()
    proxy_call(session, case.id)
    finding = finding_of(session, case.id)
    assert (finding.rule_case, finding.signed_by, finding.month) == ("customer_side", "customer_side", "2026-09")
    assert fines(session, finding) == {("agent", "A0001", 300), ("supervisor", "S01", 200), ("manager", "M01", 100)}
    orders = session.execute(select(WorkOrder).where(WorkOrder.case_id == case.id)).scalars().all()
    assert [(o.kind, o.id) for o in orders] == [("resign", finding.resign_order_id)]  # one re-signing order only
    assert orders[0].due_at == end_of(date(2026, 10, 12)) == finding.resign_due_at
    # SPEC §2.10: nothing is withheld during the 5-working-day window, only when not re-signed in time;
    # from the next instant after the end of 10-12 the statement is due and the commission withheld
    deadline = end_of(date(2026, 10, 12))
    assert commission_held(finding, sh(CALL_DAY, 10)) is False
    assert commission_held(finding, deadline) is False and statement_due(finding, deadline) is False
    after = deadline + timedelta(microseconds=1)
    assert commission_held(finding, after) is True and statement_due(finding, after) is True

    # re-signed: the branch submits, HQ accepts → hold released, no statement due any more
    order = orders[0]
    send_work_order_event(session, order_id=order.id, event="submit", payload={"result": {"re_signed": True}},
                          expected_version=None, ctx=ctx(sh(date(2026, 10, 13), 10), "user:branch"))
    send_work_order_event(session, order_id=order.id, event="accept", payload={},
                          expected_version=None, ctx=ctx(sh(date(2026, 10, 13), 15), "user:hq"))
    session.expire_all()
    finding = finding_of(session, case.id)
    assert finding.resigned_at == sh(date(2026, 10, 13), 15)
    # withheld from the deadline until re-signed (待完成后再补发), released from the acceptance on
    assert commission_held(finding, sh(date(2026, 10, 13), 14)) is True
    assert commission_held(finding, sh(date(2026, 10, 13), 15)) is False
    assert statement_due(finding, sh(date(2026, 10, 20), 10)) is False


def test_signed_by_the_agent_fines_the_agent_1000(session: Session) -> None:
    case = new_case(session, signed=SIGNED)
    session.commit()
    proxy_call(session, case.id, proxy_signed_by="agent")
    finding = finding_of(session, case.id)
    assert (finding.rule_case, finding.signed_by) == ("agent_signed", "agent")
    assert commission_held(finding, end_of(date(2026, 10, 13))) is True
    assert fines(session, finding) == {("agent", "A0001", 1000)}


@pytest.mark.parametrize("signed_by", ["customer_side", "agent"])
def test_departed_agent_fines_supervisor_and_manager_500_each(session: Session, signed_by: str) -> None:
    make_agent(session, code="AGONE", supervisor_code="S09", manager_code="M09", active=False)
    case = new_case(session, signed=SIGNED, agent_code="AGONE")
    session.commit()
    proxy_call(session, case.id, proxy_signed_by=signed_by)
    finding = finding_of(session, case.id)
    assert finding.rule_case == "agent_departed"
    assert fines(session, finding) == {("supervisor", "S09", 500), ("manager", "M09", 500)}
    # no commission to hold and no agent to write a statement
    assert commission_held(finding, end_of(date(2026, 10, 20))) is False
    assert statement_due(finding, end_of(date(2026, 10, 20))) is False


def test_confirmed_once_per_case(session: Session) -> None:
    case = new_case(session, signed=SIGNED)
    session.commit()
    proxy_call(session, case.id)
    first = finding_of(session, case.id)
    again = record_proxy_signature_penalties(session, ctx=ctx(sh(date(2026, 10, 14), 10)), case=case,
                                             case_kind="revisit", signed_by="agent")
    session.commit()
    assert again.id == first.id
    assert session.execute(select(func.count()).select_from(Penalty)).scalar_one() == 3
    assert session.execute(select(func.count()).select_from(WorkOrder)).scalar_one() == 1


def test_called_without_an_order_it_issues_the_re_signing_order(session: Session) -> None:
    case = new_case(session, signed=SIGNED, state="problem")
    session.commit()
    finding = record_proxy_signature_penalties(session, ctx=ctx(sh(CALL_DAY, 10)), case=case, case_kind="revisit")
    session.commit()
    order = session.get(WorkOrder, finding.resign_order_id)
    assert order is not None and order.kind == "resign" and order.due_at == end_of(date(2026, 10, 12))


def test_unknown_signer_is_rejected_and_changes_nothing(session: Session) -> None:
    case = new_case(session, signed=SIGNED)
    session.commit()
    with pytest.raises(Rejected, match="proxy_signed_by"):
        proxy_call(session, case.id, proxy_signed_by="neighbour")
    assert session.execute(select(func.count()).select_from(ProxySignatureFinding)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(WorkOrder)).scalar_one() == 0
