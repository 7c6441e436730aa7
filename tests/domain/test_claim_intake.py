"""Claims import and ``claims_revisit_intake`` against a database: validation, idempotence, the adviser,
care touches and their SMS, recording a touch and the post-claim problem clocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import UTC
from core.settings import Settings
from domain.claim_care import record_touch
from domain.claim_import import import_claims
from domain.claim_intake import claims_revisit_intake
from domain.queue import next_call
from domain.revisits import Ctx
from models import AuditEntry, CareTouch, Claim, OutboxMessage, RevisitCase
from statemachines.engine import EventNotAllowed, Rejected, StaleVersion
from tests.factories import claim_payload, make_policy, make_revisit

CAL = WorkdayCalendar.from_chinese_calendar()
# Wed 2026-09-30 06:30 Asia/Shanghai: the day after the claims closed
AS_OF = datetime(2026, 9, 29, 22, 30, tzinfo=UTC)


def ctx(now: datetime = AS_OF, **settings: Any) -> Ctx:
    return Ctx(now=now, actor="flow:claims-revisit-intake", settings=Settings(**settings), calendar=CAL)


def _count(session: Session, model: Any) -> int:
    n = session.execute(select(func.count()).select_from(model)).scalar_one()
    session.rollback()
    return n


def _import(session: Session, records: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return import_claims(session=session, records=records, actor="tester", now=AS_OF)


# --- import ------------------------------------------------------------------------------------------


def test_import_is_idempotent_and_audits_changes(session: Session) -> None:
    record = claim_payload("P1")
    first = _import(session, [record])
    assert (first.created, first.updated, first.unchanged) == (1, 0, 0)
    again = _import(session, [{**record, "amount": "12000"}])  # the same amount written differently
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = _import(session, [{**record, "state": "in_progress", "closed_date": None, "stage": "approved"}])
    assert changed.updated == 1
    claim = session.execute(select(Claim)).scalars().one()
    assert (claim.version, claim.state, claim.stage) == (2, "in_progress", "approved")
    audits = session.execute(select(AuditEntry.event).where(AuditEntry.case_kind == "claim")).scalars().all()
    assert audits == ["imported", "reimported"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"claim_no": ""}, "claim_no"),
        ({"state": "closed", "closed_date": None}, ""),  # a closed claim needs its closing day
        ({"state": "in_progress", "closed_date": "2026-09-29"}, ""),
        ({"state": "paid"}, "state"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"closed_date": "2026-02-30"}, "closed_date"),
        ({"claimant": {"phone": "13800000000"}}, "claimant.name"),
    ],
)
def test_invalid_claims_are_rejected_one_by_one(session: Session, bad: dict[str, Any], field: str) -> None:
    good = claim_payload("P1")
    result = _import(session, [good, claim_payload("P1", **bad), "not an object"])
    assert result.created == 1
    assert [r["index"] for r in result.rejected] == [1, 2]
    assert any(e["field"] == field for e in result.rejected[0]["errors"]), result.rejected[0]
    assert _count(session, Claim) == 1


# --- intake ------------------------------------------------------------------------------------------


def test_closed_claim_becomes_a_revisit_with_three_touches_and_reruns_create_nothing(session: Session) -> None:
    policy = make_policy(session)
    session.commit()
    _import(session, [claim_payload(policy.policy_no, claim_no="C1", closed_date="2026-09-29"),
                      claim_payload("P-NOT-ON-FILE", claim_no="C2")])  # fmt: skip
    result = claims_revisit_intake(session, ctx=ctx())
    assert (result.closed_revisits, result.touches, result.messages, result.waiting_for_policy) == (1, 3, 3, 1)

    case = session.execute(select(RevisitCase)).scalars().one()
    assert (case.kind, case.claim_no, case.state, case.policy_id) == ("claim", "C1", "scheduled", policy.id)
    assert case.due_date == date(2026, 9, 30) and case.revisit_due_date == date(2026, 10, 12)
    # the sweep fires its deadline at the first instant after 10-12 (Asia/Shanghai)
    assert (case.deadline_event, case.next_deadline_at) == (
        "revisit_deadline_missed", datetime(2026, 10, 12, 16, 0, tzinfo=UTC)
    )
    assert case.cooling_off_end is None and case.cooling_off_start is None and case.owner is None
    touches = session.execute(select(CareTouch).order_by(CareTouch.due_date)).scalars().all()
    assert [(t.kind, t.due_date, t.state) for t in touches] == [
        ("day0", date(2026, 9, 29), "scheduled"),
        ("week1", date(2026, 10, 6), "scheduled"),
        ("month1", date(2026, 10, 29), "scheduled"),
    ]
    sms = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert {m.template for m in sms} == {"claim_care"} and {m.channel for m in sms} == {"sms"}
    assert sms[0].context == {"claim_no": "C1", "customer_name": "张丽", "touch": "day0"}
    # day0 has passed at 06:30 the next day: sent when callable hours open (09:00 = 01:00 UTC); the others when due
    assert [m.next_try_at for m in sms] == [
        datetime(2026, 9, 30, 1, 0, tzinfo=UTC), datetime(2026, 10, 6, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 29, 1, 0, tzinfo=UTC),
    ]  # fmt: skip
    audits = _count(session, AuditEntry)

    again = claims_revisit_intake(session, ctx=ctx())
    assert (again.closed_revisits, again.stage_revisits, again.touches, again.messages) == (0, 0, 0, 0)
    assert _count(session, RevisitCase) == 1 and _count(session, CareTouch) == 3
    assert _count(session, OutboxMessage) == 3 and _count(session, AuditEntry) == audits


def test_claim_at_a_configured_stage_gets_an_in_progress_revisit_and_touches_once_closed(session: Session) -> None:
    policy = make_policy(session)
    session.commit()
    record = claim_payload(policy.policy_no, claim_no="C9", state="in_progress", closed_date=None, stage="approved")
    _import(session, [record, claim_payload(policy.policy_no, claim_no="C10", state="in_progress",
                                            closed_date=None, stage="registered")])  # fmt: skip
    result = claims_revisit_intake(session, ctx=ctx())
    assert (result.stage_revisits, result.closed_revisits, result.touches) == (1, 0, 0)
    case = session.execute(select(RevisitCase)).scalars().one()
    # counted from the day intake sees the stage: Wed 09-30 → 10-08, 09, 10, 12, 13
    assert (case.claim_no, case.due_date, case.revisit_due_date) == ("C9", date(2026, 9, 30), date(2026, 10, 13))
    session.rollback()

    _import(session, [{**record, "state": "closed", "closed_date": "2026-10-09", "stage": None}])
    later = claims_revisit_intake(session, ctx=ctx(datetime(2026, 10, 9, 22, 30, tzinfo=UTC)))
    assert (later.closed_revisits, later.touches) == (0, 3)  # the one revisit per claim keeps its dates
    assert _count(session, RevisitCase) == 1


def test_large_claim_owner_at_and_above_the_threshold(session: Session) -> None:
    policy = make_policy(session)
    session.commit()
    _import(session, [
        claim_payload(policy.policy_no, claim_no="AT", amount="100000.00"),
        claim_payload(policy.policy_no, claim_no="ABOVE1", amount="100001.00"),
        claim_payload(policy.policy_no, claim_no="ABOVE2", amount="250000.00"),
        claim_payload(policy.policy_no, claim_no="ABOVE3", amount="300000.00"),
    ])  # fmt: skip
    # "li" already owns an open claim revisit: "wang" comes first, then "li" and "wang" alternate on load
    make_revisit(session, policy=policy, kind="claim", claim_no="OLD", owner="li", cooling_off_end=None)
    session.commit()
    claims_revisit_intake(session, ctx=ctx(claim_advisers=["li", "wang"]))
    owners = dict(session.execute(select(RevisitCase.claim_no, RevisitCase.owner)).all())
    assert owners == {"OLD": "li", "AT": None, "ABOVE1": "wang", "ABOVE2": "li", "ABOVE3": "wang"}
    flags = dict(session.execute(select(RevisitCase.claim_no, RevisitCase.flags)).all())
    assert flags["AT"] == [] and flags["ABOVE1"] == ["large_claim"]


def test_large_claim_without_advisers_is_flagged(session: Session) -> None:
    policy = make_policy(session)
    session.commit()
    _import(session, [claim_payload(policy.policy_no, claim_no="BIG", amount="100000.01")])
    claims_revisit_intake(session, ctx=ctx())
    case = session.execute(select(RevisitCase)).scalars().one()
    assert case.owner is None and case.flags == ["large_claim", "claim_adviser_missing"]


def test_queue_ranks_a_claim_revisit_by_its_own_last_day(session: Session) -> None:
    policy = make_policy(session)
    # a new-contract case whose cooling-off ends after the claim revisit's last day, and one before it
    later = make_revisit(session, policy=policy, cooling_off_end=date(2026, 10, 20), due_date=date(2026, 9, 18))
    claim = make_revisit(session, policy=policy, kind="claim", claim_no="C1", cooling_off_end=None,
                         due_date=date(2026, 9, 30), revisit_due_date=date(2026, 10, 12))  # fmt: skip
    sooner = make_revisit(session, policy=make_policy(session), cooling_off_end=date(2026, 10, 9),
                          due_date=date(2026, 9, 18))  # fmt: skip
    session.commit()
    at = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    order = [next_call(session, agent=f"a{i}", ctx=ctx(at)).id for i in range(3)]  # type: ignore[union-attr]
    assert order == [sooner.id, claim.id, later.id]


# --- recording a touch -----------------------------------------------------------------------------------


def _touch_setup(session: Session) -> RevisitCase:
    policy = make_policy(session)
    session.commit()
    _import(session, [claim_payload(policy.policy_no, claim_no="C1")])
    claims_revisit_intake(session, ctx=ctx())
    case = session.execute(select(RevisitCase)).scalars().one()
    session.rollback()
    return case


def test_touch_recorded_with_a_problem_starts_the_clocks(session: Session) -> None:
    case = _touch_setup(session)
    at = datetime(2026, 10, 6, 3, 0, tzinfo=UTC)  # 11:00 Shanghai on the week1 day
    touch = record_touch(
        session, case_id=case.id, kind="week1", outcome="done", channel="phone", result="reached",
        satisfaction=2, problem="the hospital bill was not counted", expected_version=1, ctx=ctx(at),
    )  # fmt: skip
    assert (touch.state, touch.satisfaction, touch.channel, touch.version) == ("done", 2, "phone", 2)
    assert touch.response_due_at == at + timedelta(hours=24) and touch.solution_due_at == at + timedelta(hours=48)
    notice = session.execute(select(OutboxMessage).where(OutboxMessage.channel == "internal")).scalars().one()
    assert notice.template == "revisit_escalation" and notice.recipient == "supervisor:SH01"
    assert set(notice.context) == {"case_id", "policy_no", "branch", "reason", "cooling_off_end"}
    audit = session.execute(select(AuditEntry).where(AuditEntry.case_kind == "care_touch")).scalars().one()
    assert (audit.event, audit.target, audit.payload["problem"]) == ("record_done", "done", touch.problem)


def test_touch_rules(session: Session) -> None:
    case = _touch_setup(session)
    now = datetime(2026, 9, 30, 3, 0, tzinfo=UTC)
    common: dict[str, Any] = dict(case_id=case.id, channel="sms", result=None, problem=None, ctx=ctx(now))
    with pytest.raises(Rejected):
        record_touch(session, kind="day0", outcome="done", satisfaction=6, expected_version=1, **common)
    with pytest.raises(Rejected):
        record_touch(session, kind="year1", outcome="done", satisfaction=None, expected_version=1, **common)
    with pytest.raises(Rejected):
        record_touch(session, kind="day0", outcome="missed", satisfaction=4, expected_version=1, **common)
    with pytest.raises(StaleVersion):
        record_touch(session, kind="day0", outcome="done", satisfaction=4, expected_version=7, **common)
    assert record_touch(session, kind="day0", outcome="missed", satisfaction=None, expected_version=1,
                        **common).state == "missed"  # fmt: skip
    with pytest.raises(EventNotAllowed):  # recorded once
        record_touch(session, kind="day0", outcome="done", satisfaction=4, expected_version=2, **common)
    assert _count(session, AuditEntry) == 3  # the claim imported, the revisit created, one touch recorded


@pytest.mark.postgres
def test_intake_on_postgres_is_idempotent(pg_session: Session) -> None:
    policy = make_policy(pg_session)
    pg_session.commit()
    import_claims(session=pg_session, records=[claim_payload(policy.policy_no, claim_no="PG1", amount="100000.01")],
                  actor="tester", now=AS_OF)  # fmt: skip
    first = claims_revisit_intake(pg_session, ctx=ctx(claim_advisers=["li"]))
    assert (first.closed_revisits, first.touches, first.messages, first.large) == (1, 3, 3, 1)
    again = claims_revisit_intake(pg_session, ctx=ctx(claim_advisers=["li"]))
    assert (again.closed_revisits, again.touches, again.messages) == (0, 0, 0)
    case = pg_session.execute(select(RevisitCase)).scalars().one()
    assert (case.owner, case.revisit_due_date) == ("li", date(2026, 10, 12))


def test_a_post_claim_problem_is_a_complaint_whose_missed_response_escalates(session: Session) -> None:
    from flows.complaints import complaint_sla_sweep_flow
    from models import Complaint

    case = _touch_setup(session)
    at = datetime(2026, 10, 6, 3, 0, tzinfo=UTC)
    record_touch(
        session, case_id=case.id, kind="week1", outcome="done", channel="phone", result="reached",
        satisfaction=2, problem="the hospital bill was not counted", expected_version=1, ctx=ctx(at),
    )  # fmt: skip
    complaint = session.execute(select(Complaint)).scalars().one()
    assert (complaint.source, complaint.claim_no, complaint.revisit_case_id) == ("post_claim", case.claim_no, case.id)
    assert complaint.content == "the hospital bill was not counted"
    session.rollback()
    assert complaint_sla_sweep_flow.fn(as_of=at + timedelta(hours=24) - timedelta(minutes=1))["escalations"] == {}
    escalated = complaint_sla_sweep_flow.fn(as_of=at + timedelta(hours=24))["escalations"]
    assert sum(escalated.values()) == 1
    assert session.get(Complaint, complaint.id, populate_existing=True).state == "escalated"
