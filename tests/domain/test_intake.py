"""Intake of new contracts (SPEC §2.1–2.3, §2.9, §2.7 special revisits, §2.8 work orders).

Intake runs at 06:00 Asia/Shanghai, which is 22:00 UTC the day before: every due time below is
counted from the *Shanghai* day. The domain code is handed the intake moment through ``Ctx``; the wall
clock is frozen years away from it, so code reading the clock instead would give itself away.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlmodel import Session

from core.calendar import WorkdayCalendar
from core.clock import UTC
from core.settings import CoolingOffRule, Settings, get_settings
from domain.intake import COOLING_OFF_FLOORED, IntakeResult, intake_new_contracts
from domain.revisits import Ctx
from models import AuditEntry, OutboxMessage, Policy, RevisitCase, WorkOrder
from tests.factories import make_agent, make_policy, make_revisit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar.from_chinese_calendar()
CIVIL_CODE = "2021-civil-code"
WALL_CLOCK = "2031-03-03 03:03:03"  # frozen; never the moment intake is told it is


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    """A wall-clock moment in Asia/Shanghai as an aware UTC datetime."""
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=SH).astimezone(UTC)


def end_of(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 23, 59, 59, 999999)


TUE_0929 = at(2026, 9, 29, 6, 0)  # Tue 06:00 Shanghai = Mon 2026-09-28 22:00 UTC
assert TUE_0929 == datetime(2026, 9, 28, 22, 0, tzinfo=UTC)


def make_ctx(now: datetime, settings: Settings | None = None) -> Ctx:
    return Ctx(now=now, actor="flow:test", settings=settings or get_settings(), calendar=CAL)


def intake(session: Session, now: datetime = TUE_0929, settings: Settings | None = None) -> IntakeResult:
    with freeze_time(WALL_CLOCK):
        return intake_new_contracts(session, ctx=make_ctx(now, settings))


def count(session: Session, model: Any, *where: Any) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def case_of(session: Session, policy: Policy) -> RevisitCase | None:
    session.expire_all()
    stmt = select(RevisitCase).where(RevisitCase.policy_id == policy.id, RevisitCase.kind == "new_contract")
    return session.execute(stmt).scalars().one_or_none()


def audit_of(session: Session, case: RevisitCase) -> list[tuple[int, str, str, str]]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.case_kind == "revisit", AuditEntry.case_id == case.id)
        .order_by(AuditEntry.version)
    )
    return [(a.version, a.event, a.source, a.target) for a in session.execute(stmt).scalars()]


def orders_of(session: Session, case: RevisitCase) -> list[WorkOrder]:
    return list(session.execute(select(WorkOrder).where(WorkOrder.case_id == case.id)).scalars())


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


_holder_seq = iter(range(1, 10_000))


def holder(**over: Any) -> dict[str, Any]:
    """A distinct policyholder (the shared-number count goes by ID number)."""
    n = next(_holder_seq)
    return {"holder_name": f"客户{n}", "holder_id_number": f"3101011980{n:08d}", **over}


# a receipt signed on the intake day: cooling-off ends Wed 10-14, which leaves the ladder its 7 working days
ROOMY = {"receipt_signed_date": date(2026, 9, 29), "receipt_entered_date": date(2026, 9, 29)}


# --- creation -------------------------------------------------------------------------------------------


def test_one_case_per_in_scope_policy_with_its_dates(session):
    agency = make_policy(session, **holder())  # signed 09-16, entered 09-17
    banca = make_policy(session, channel="bancassurance", receipt_entered_date=None, **holder())
    health = make_policy(session, line="health", term_years=2, **holder())
    no_receipt = make_policy(session, receipt_signed_date=None, receipt_entered_date=None, **holder())
    make_policy(session, line="life", term_years=1, **holder())
    make_policy(session, line="accident", term_years=20, **holder())
    make_policy(session, holder_is_natural_person=False, holder_name="某某有限公司", holder_id_number="91310000X")

    result = intake(session)

    assert result.as_dict() == {
        "created": 4, "flagged": {}, "special": 0, "opened": 0, "cooling_off_filled": 0, "due_date_moved": 0,
        "shared_number_earlier": 0,
    }
    assert count(session, RevisitCase) == 4
    expected = {
        agency.id: (date(2026, 9, 18), date(2026, 9, 16), date(2026, 10, 8)),  # 09-16 + 15 = National Day
        banca.id: (date(2026, 9, 11), date(2026, 9, 16), date(2026, 10, 8)),
        health.id: (date(2026, 9, 18), date(2026, 9, 16), date(2026, 10, 8)),
        no_receipt.id: (date(2026, 9, 25), None, None),  # issue 09-10 + 15; no period yet
    }
    for p in (agency, banca, health, no_receipt):
        case = case_of(session, p)
        assert case is not None
        assert (case.due_date, case.cooling_off_start, case.cooling_off_end) == expected[p.id]
        assert case.cooling_off_rule_version == CIVIL_CODE
        assert (case.state, case.version, case.flags, case.classification) == ("scheduled", 1, [], None)
        assert (case.policy_no, case.branch_code, case.channel, case.agent_code) == (
            p.policy_no, p.branch_code, p.channel, p.agent_code
        )
        assert case.created_at == TUE_0929 and case.updated_at == TUE_0929
        assert audit_of(session, case) == [(1, "created", "", "scheduled")]
    assert count(session, WorkOrder) == 0 and count(session, OutboxMessage) == 0


def test_out_of_scope_policies_get_no_case(session):
    out = [
        make_policy(session, term_years=1, **holder()),
        make_policy(session, line="health", term_years=1, **holder()),
        make_policy(session, line="accident", **holder()),
        make_policy(session, holder_is_natural_person=False, **holder()),
    ]
    assert intake(session).created == 0
    assert all(case_of(session, p) is None for p in out)
    assert count(session, AuditEntry) == 0


def test_rerunning_creates_nothing_and_audits_each_case_once(session):
    policies = [make_policy(session, **holder()) for _ in range(3)]
    flagged = make_policy(session, holder_phone="123", **holder(**ROOMY))

    first = intake(session)
    assert (first.created, first.flagged) == (4, {"invalid_phone": 1})
    totals = (count(session, RevisitCase), count(session, AuditEntry), count(session, WorkOrder),
              count(session, OutboxMessage))

    again = intake(session)  # same moment
    later = intake(session, now=at(2026, 9, 30, 6, 0))  # next day
    for result in (again, later):
        assert (result.created, result.flagged, result.special, result.cooling_off_filled) == (0, {}, 0, 0)
    assert (count(session, RevisitCase), count(session, AuditEntry), count(session, WorkOrder),
            count(session, OutboxMessage)) == totals
    for p in (*policies, flagged):
        case = case_of(session, p)
        assert case is not None
        created = session.execute(
            select(AuditEntry).where(
                AuditEntry.case_kind == "revisit", AuditEntry.case_id == case.id, AuditEntry.event == "created"
            )
        ).scalars().all()
        assert [(a.version, a.actor, a.at, a.payload) for a in created] == [
            (1, "flow:test", TUE_0929, {"policy_id": p.id})
        ]
    assert case_of(session, flagged).version == 2  # created, then classify_verification — nothing more


def test_a_policy_imported_after_a_run_is_picked_up_by_the_next(session):
    make_policy(session, **holder())
    assert intake(session).created == 1
    late = make_policy(session, **holder())
    assert intake(session, now=at(2026, 9, 30, 6, 0)).created == 1
    case = case_of(session, late)
    assert case is not None and case.created_at == at(2026, 9, 30, 6, 0)


# --- §2.9 invalid phone → verification with an immediate work order --------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        TUE_0929,  # 06:00 Shanghai, still Monday in UTC: the Shanghai day counts
        at(2026, 9, 29, 23, 59, 59),  # the last second of Tuesday
    ],
)
def test_an_invalid_phone_goes_to_verification_with_a_three_working_day_order(session, now):
    p = make_policy(session, holder_phone="1380013800", **holder(**ROOMY))  # 10 digits

    result = intake(session, now=now)

    assert (result.created, result.flagged, result.special) == (1, {"invalid_phone": 1}, 0)
    case = case_of(session, p)
    assert case is not None
    assert (case.state, case.classification, case.verification_reason) == ("verification", "verification",
                                                                           "wrong_number")
    assert case.flags == ["invalid_phone"]
    assert case.cooling_off_end == date(2026, 10, 14)
    assert audit_of(session, case) == [
        (1, "created", "", "scheduled"),
        (2, "classify_verification", "scheduled", "verification"),
    ]
    [order] = orders_of(session, case)
    assert (order.kind, order.state, order.branch_code, order.issued_at) == ("verification", "open", "SH01", now)
    # Tue 09-29 + 3 working days: 09-30, (National Day 10-01..10-07), 10-08, 10-09
    assert order.due_at == end_of(2026, 10, 9)
    assert order.due_at == datetime(2026, 10, 9, 15, 59, 59, 999999, tzinfo=UTC)
    [notice] = outbox(session)
    assert (notice.channel, notice.template, notice.recipient, notice.state) == (
        "internal", "work_order_notice", "branch:SH01", "pending"
    )
    assert (notice.case_kind, notice.case_id, notice.dedupe_key) == ("work_order", order.id,
                                                                     f"work_order:{order.id}:created")
    assert notice.context["kind"] == "verification" and notice.context["case_id"] == case.id


@pytest.mark.parametrize("phone", [None, "", "138001380001", "1380013800a"])
def test_every_kind_of_invalid_phone_is_a_wrong_number(session, phone):
    p = make_policy(session, holder_phone=phone, **holder(**ROOMY))
    intake(session)
    case = case_of(session, p)
    assert case is not None and (case.state, case.verification_reason, case.flags) == (
        "verification", "wrong_number", ["invalid_phone"]
    )


def test_a_flagged_case_without_room_for_the_ladder_goes_straight_to_letter(session):
    # signed 09-16: cooling-off ends 10-08, only 2 working days after 09-29 (SPEC §2.7, planned backwards)
    p = make_policy(session, holder_phone="123", **holder())

    intake(session)

    case = case_of(session, p)
    assert case is not None and case.state == "letter_or_onsite"
    assert case.verification_reason == "wrong_number" and case.flags == ["invalid_phone"]
    assert [e for _, e, _, _ in audit_of(session, case)] == ["created", "classify_verification", "escalate_to_letter"]
    [order] = orders_of(session, case)
    assert (order.kind, order.due_at) == ("failed_followup", end_of(2026, 9, 30))
    assert sorted(m.template for m in outbox(session)) == ["revisit_letter", "work_order_notice"]


# --- §2.9 shared numbers ------------------------------------------------------------------------------------

SHARED = "13612345678"


def test_a_third_holder_on_one_phone_in_the_same_run_flags_all_three(session):
    """Counted over every policy on file: all three are on file when intake runs, so all three are flagged."""
    policies = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(3)]

    result = intake(session)

    assert result.flagged == {"shared_number": 3}
    for p in policies:
        case = case_of(session, p)
        assert case is not None
        assert (case.state, case.verification_reason, case.flags) == ("verification", "shared_number",
                                                                      ["shared_number"])
        assert [o.kind for o in orders_of(session, case)] == ["verification"]


def test_two_holders_on_one_phone_are_fine(session):
    policies = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(2)]
    assert intake(session).flagged == {}
    assert all(case_of(session, p).state == "scheduled" for p in policies)


def test_a_third_holder_arriving_later_flags_the_two_earlier_cases_too(session):
    """SPEC §2.9: the number is shared by three policyholders — the two cases already on file, still
    before their first call, go to verification (shared number) with their immediate work order, as the third."""
    first_two = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(2)]
    assert intake(session).flagged == {}

    third = make_policy(session, holder_phone=SHARED, **holder(**ROOMY))
    noon = at(2026, 9, 29, 12, 0)
    result = intake(session, now=noon)

    assert (result.created, result.flagged, result.shared_number_earlier) == (1, {"shared_number": 1}, 2)
    for p in (third, *first_two):
        case = case_of(session, p)
        assert case is not None
        assert (case.state, case.verification_reason, case.flags) == ("verification", "shared_number",
                                                                      ["shared_number"])
        [order] = orders_of(session, case)
        assert (order.kind, order.issued_at, order.due_at) == ("verification", noon, end_of(2026, 10, 9))
    for p in first_two:
        earlier = case_of(session, p)
        assert audit_of(session, earlier) == [
            (1, "created", "", "scheduled"),
            (2, "classify_verification", "scheduled", "verification"),
        ]
        [entry] = session.execute(
            select(AuditEntry).where(AuditEntry.case_id == earlier.id, AuditEntry.version == 2)
        ).scalars().all()
        assert (entry.actor, entry.at, entry.payload) == ("flow:test", noon, {"reason": "shared_number"})
    assert sorted(m.template for m in outbox(session)) == ["work_order_notice"] * 3

    # a fourth holder later, and a re-run: nothing more happens to the three
    totals = (count(session, AuditEntry), count(session, WorkOrder), count(session, OutboxMessage))
    assert intake(session, now=noon).shared_number_earlier == 0
    assert (count(session, AuditEntry), count(session, WorkOrder), count(session, OutboxMessage)) == totals
    fourth = make_policy(session, holder_phone=SHARED, **holder(**ROOMY))
    later = intake(session, now=at(2026, 9, 30, 6, 0))
    assert (later.created, later.flagged, later.shared_number_earlier) == (1, {"shared_number": 1}, 0)
    assert case_of(session, fourth).verification_reason == "shared_number"  # (no room left: on to letter)


def test_earlier_cases_past_their_first_call_only_get_the_flag_audited(session):
    """Flag before the first call (SPEC §2.9): a case already called keeps its course; the flag is added and
    audited (``flagged``, no state change, version + 1). A case queued but never called is still before it."""
    queued = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                          state="calling", cooling_off_end=date(2026, 10, 14), version=2)
    called = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                          state="calling", attempt_count=1, cooling_off_end=date(2026, 10, 14), version=3)
    booked = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                          state="appointment", attempt_count=1, appointment_at=at(2026, 9, 30, 10, 0), version=3)
    recalled = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                            state="calling", recall_count=1, cooling_off_end=date(2026, 10, 14), version=5)
    again = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                         state="scheduled", supplementary_needed=True, attempt_count=1, version=4)
    problem = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                           state="problem", classification="problem", flags=["agent_phone"], version=3)
    closed = make_revisit(session, policy=make_policy(session, holder_phone=SHARED, **holder(**ROOMY)),
                          state="closed_success", version=4)
    session.commit()
    newcomer = make_policy(session, holder_phone=SHARED, **holder(**ROOMY))

    result = intake(session)

    assert result.shared_number_earlier == 6  # every open case on the phone; the closed one is left alone
    q = case_of(session, queued)
    assert (q.state, q.verification_reason, q.flags, q.version) == ("verification", "shared_number",
                                                                    ["shared_number"], 3)
    assert [o.kind for o in orders_of(session, q)] == ["verification"]
    for case, state, flags, version in (
        (called, "calling", ["shared_number"], 4),
        (booked, "appointment", ["shared_number"], 4),
        (recalled, "calling", ["shared_number"], 6),
        (again, "scheduled", ["shared_number"], 5),
        (problem, "problem", ["agent_phone", "shared_number"], 4),
    ):
        now_ = session.get(RevisitCase, case.id, populate_existing=True)
        assert (now_.state, now_.flags, now_.version, now_.updated_at) == (state, flags, version, TUE_0929)
        assert now_.verification_reason is None and orders_of(session, now_) == []
        [entry] = session.execute(
            select(AuditEntry).where(AuditEntry.case_kind == "revisit", AuditEntry.case_id == case.id)
        ).scalars().all()
        assert (entry.version, entry.event, entry.source, entry.target, entry.actor, entry.at) == (
            version, "flagged", state, state, "flow:test", TUE_0929
        )
        assert entry.payload["flag"] == "shared_number" and entry.payload["holders_on_phone"] == 8
    c = session.get(RevisitCase, closed.id, populate_existing=True)
    assert (c.flags, c.version) == ([], 4)
    assert case_of(session, newcomer).state == "verification"
    # a re-run finds them all flagged
    assert intake(session).shared_number_earlier == 0


def test_one_holder_with_three_policies_on_one_phone_is_not_shared(session):
    same = holder(**ROOMY)
    policies = [make_policy(session, holder_phone=SHARED, **same) for _ in range(3)]
    assert intake(session).flagged == {}
    assert all(case_of(session, p).flags == [] for p in policies)


def test_out_of_scope_policies_count_towards_a_shared_number(session):
    make_policy(session, holder_phone=SHARED, line="accident", **holder())  # on file, gets no case
    policies = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(2)]
    result = intake(session)
    assert (result.created, result.flagged) == (2, {"shared_number": 2})
    assert all(case_of(session, p).verification_reason == "shared_number" for p in policies)


def test_the_agents_phone_as_the_holders_is_a_shared_number(session):
    make_agent(session, code="A0009", name="李娜", phone="13900000009", branch_code="SH01")
    p = make_policy(session, agent_code="A0009", holder_phone="13900000009", **holder(**ROOMY))
    own = make_policy(session, agent_code="A0009", holder_phone="13900000009", holder_name="李娜",
                      holder_id_number="310101198501010009", **ROOMY)  # the agent insures themself

    result = intake(session)

    assert result.flagged == {"agent_phone": 1}
    case = case_of(session, p)
    assert case is not None and (case.state, case.verification_reason, case.flags) == (
        "verification", "shared_number", ["agent_phone"]
    )
    assert case_of(session, own).state == "scheduled" and case_of(session, own).flags == []


# --- §2.7 special revisits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (TUE_0929, end_of(2026, 9, 30)),  # Tue → Wed
        (at(2026, 9, 30, 6, 0), end_of(2026, 10, 8)),  # Wed → over National Day → Thu 10-08
    ],
)
def test_a_special_revisit_goes_straight_to_letter_or_onsite(session, now, due):
    p = make_policy(session, special_revisit=True, holder_phone=None, **holder(**ROOMY))

    result = intake(session, now=now)

    assert (result.created, result.special, result.flagged) == (1, 1, {})
    case = case_of(session, p)
    assert case is not None
    assert (case.state, case.special_revisit, case.flags) == ("letter_or_onsite", True, ["special_revisit"])
    assert audit_of(session, case) == [(1, "created", "", "scheduled"),
                                       (2, "escalate_to_letter", "scheduled", "letter_or_onsite")]
    [order] = orders_of(session, case)
    assert (order.kind, order.state, order.due_at) == ("failed_followup", "open", due)
    notice, letter = sorted(outbox(session), key=lambda m: m.channel)  # internal, letter
    assert (letter.channel, letter.template, letter.recipient, letter.dedupe_key) == (
        "letter", "revisit_letter", f"policy:{p.policy_no}", f"revisit:{case.id}:letter:v2"  # one per trip to letter
    )
    assert (letter.case_kind, letter.case_id) == ("revisit", case.id)
    assert (notice.channel, notice.template, notice.case_id) == ("internal", "work_order_notice", order.id)


def test_a_special_revisit_on_a_shared_or_agents_phone_still_goes_to_letter(session):
    """SPEC §2.7: a special revisit skips straight to letter/on-site — its phone is not called, so not verified."""
    shared = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(2)]
    special = make_policy(session, holder_phone=SHARED, special_revisit=True, **holder(**ROOMY))
    agents = make_policy(session, holder_phone="13900000001", special_revisit=True, **holder(**ROOMY))

    result = intake(session)

    assert result.special == 2
    assert result.flagged == {"shared_number": 3, "agent_phone": 1}
    assert case_of(session, special).state == "letter_or_onsite"
    assert case_of(session, special).flags == ["special_revisit", "shared_number"]
    assert case_of(session, agents).state == "letter_or_onsite"
    assert case_of(session, agents).flags == ["special_revisit", "agent_phone"]
    assert [o.kind for o in orders_of(session, case_of(session, agents))] == ["failed_followup"]
    assert all(case_of(session, p).state == "verification" for p in shared)


def test_a_special_revisit_with_a_malformed_phone_goes_to_letter(session):
    p = make_policy(session, special_revisit=True, holder_phone="12345", **holder(**ROOMY))
    result = intake(session)
    assert (result.special, result.flagged) == (1, {"invalid_phone": 1})
    assert case_of(session, p).state == "letter_or_onsite"


# --- §2.3 cooling-off known later, rule versions, the floor ------------------------------------------------------


def test_the_cooling_off_end_is_filled_once_the_receipt_is_signed(session):
    p = make_policy(session, issue_date=date(2026, 9, 10), receipt_signed_date=None, receipt_entered_date=None,
                    **holder())
    first = intake(session, now=at(2026, 9, 11, 6, 0))
    case = case_of(session, p)
    assert first.created == 1 and first.cooling_off_filled == 0
    assert (case.cooling_off_start, case.cooling_off_end, case.due_date) == (None, None, date(2026, 9, 25))
    assert case.cooling_off_rule_version == CIVIL_CODE

    # the receipt comes back: signed Mon 09-14, entered Tue 09-15 (a re-import updates the policy)
    p.receipt_signed_date, p.receipt_entered_date = date(2026, 9, 14), date(2026, 9, 15)
    session.add(p)
    session.commit()

    second = intake(session, now=at(2026, 9, 16, 6, 0))

    assert (second.created, second.cooling_off_filled, second.due_date_moved) == (0, 1, 1)
    case = case_of(session, p)
    assert (case.cooling_off_start, case.cooling_off_end) == (date(2026, 9, 14), date(2026, 9, 29))
    # due the day after the receipt was entered, not issue + 15 any more (SPEC §2.2)
    assert case.due_date == date(2026, 9, 16)
    assert (case.state, case.version, case.updated_at) == ("scheduled", 3, at(2026, 9, 16, 6, 0))
    # both changes audited, no state change: a case's columns never change without an audit row
    assert audit_of(session, case) == [
        (1, "created", "", "scheduled"),
        (2, "cooling_off_set", "scheduled", "scheduled"),
        (3, "due_date_moved", "scheduled", "scheduled"),
    ]
    entries = session.execute(
        select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.version > 1).order_by(AuditEntry.version)
    ).scalars().all()
    assert [(a.payload, a.actor, a.at) for a in entries] == [
        ({"cooling_off_start": "2026-09-14", "cooling_off_end": "2026-09-29", "rule_version": CIVIL_CODE,
          "floored": False}, "flow:test", at(2026, 9, 16, 6, 0)),
        ({"from": "2026-09-25", "to": "2026-09-16"}, "flow:test", at(2026, 9, 16, 6, 0)),
    ]
    # nothing more to fill or move
    third = intake(session, now=at(2026, 9, 16, 7, 0))
    assert (third.cooling_off_filled, third.due_date_moved) == (0, 0)
    assert case_of(session, p).version == 3


def test_a_supplementary_revisit_keeps_its_own_due_date(session):
    p = make_policy(session, receipt_signed_date=None, receipt_entered_date=None, **holder())
    intake(session, now=at(2026, 9, 11, 6, 0))
    case = case_of(session, p)
    case.supplementary_needed, case.due_date = True, date(2026, 10, 20)
    session.add(case)
    p.receipt_entered_date = date(2026, 9, 15)
    session.add(p)
    session.commit()
    assert intake(session, now=at(2026, 9, 16, 6, 0)).due_date_moved == 0
    assert case_of(session, p).due_date == date(2026, 10, 20)


OLD = CoolingOffRule(
    version="v2021", effective_from=date(2021, 1, 1), default_days=15, min_days=10, extend_to_next_workday=True
)
NEW = CoolingOffRule(
    version="v2026-10", effective_from=date(2026, 10, 1), default_days=20, min_days=15, extend_to_next_workday=False
)


def test_a_case_keeps_the_rule_version_it_was_created_under(session):
    only_old = Settings(cooling_off_rules=[OLD])
    both = Settings(cooling_off_rules=[OLD, NEW])
    kept = make_policy(session, issue_date=date(2026, 9, 20), cooling_off_days=None, receipt_signed_date=None,
                       receipt_entered_date=None, **holder())
    assert intake(session, now=at(2026, 9, 21, 6, 0), settings=only_old).created == 1
    assert case_of(session, kept).cooling_off_rule_version == "v2021"

    # the rule changes; the receipt is signed under the new rule's dates
    kept.receipt_signed_date = date(2026, 10, 24)
    session.add(kept)
    fresh = make_policy(session, issue_date=date(2026, 10, 20), cooling_off_days=None,
                        receipt_signed_date=date(2026, 10, 24), receipt_entered_date=date(2026, 10, 24), **holder())
    session.commit()
    result = intake(session, now=at(2026, 10, 26, 6, 0), settings=both)

    assert (result.created, result.cooling_off_filled) == (1, 1)
    old_case, new_case = case_of(session, kept), case_of(session, fresh)
    # v2021: 10-24 + 15 = Sun 11-08 → Mon 11-09;  v2026-10: 10-24 + 20 = Fri 11-13, no extension
    assert (old_case.cooling_off_rule_version, old_case.cooling_off_end) == ("v2021", date(2026, 11, 9))
    assert (new_case.cooling_off_rule_version, new_case.cooling_off_end) == ("v2026-10", date(2026, 11, 13))


def test_a_product_below_the_floor_runs_on_the_floor_and_does_not_stop_intake(session):
    short = make_policy(session, cooling_off_days=5, receipt_signed_date=date(2026, 9, 29),
                        receipt_entered_date=date(2026, 9, 29), **holder())
    others = [make_policy(session, **holder()) for _ in range(2)]

    result = intake(session)

    assert (result.created, result.flagged) == (3, {COOLING_OFF_FLOORED: 1})
    case = case_of(session, short)
    # 10 days, the floor: 09-29 + 10 = Fri 10-09 (a working day)
    assert (case.cooling_off_end, case.state, case.flags) == (date(2026, 10, 9), "scheduled", [COOLING_OFF_FLOORED])
    assert all(case_of(session, p).cooling_off_end == date(2026, 10, 8) for p in others)


def test_a_product_below_the_floor_is_floored_when_the_receipt_comes_later(session):
    p = make_policy(session, cooling_off_days=5, receipt_signed_date=None, receipt_entered_date=None, **holder())
    intake(session, now=at(2026, 9, 11, 6, 0))
    p.receipt_signed_date = date(2026, 9, 14)
    session.add(p)
    session.commit()
    assert intake(session, now=at(2026, 9, 15, 6, 0)).cooling_off_filled == 1
    case = case_of(session, p)
    assert (case.cooling_off_end, case.flags) == (date(2026, 9, 24), [COOLING_OFF_FLOORED])


# --- PostgreSQL -----------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_intake_on_postgresql(pg_session):
    session = pg_session
    plain = [make_policy(session, **holder()) for _ in range(3)]
    make_policy(session, line="accident", **holder())
    make_policy(session, term_years=1, **holder())
    invalid = make_policy(session, holder_phone="123", **holder(**ROOMY))
    special = make_policy(session, special_revisit=True, holder_phone=None, **holder(**ROOMY))
    shared = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(3)]

    result = intake(session)

    assert result.as_dict() == {
        "created": 8, "flagged": {"invalid_phone": 1, "shared_number": 3}, "special": 1, "opened": 0,
        "cooling_off_filled": 0, "due_date_moved": 0, "shared_number_earlier": 0,
    }
    assert count(session, RevisitCase) == 8
    assert count(session, AuditEntry, AuditEntry.case_kind == "revisit", AuditEntry.event == "created") == 8
    assert count(session, WorkOrder, WorkOrder.kind == "verification") == 4
    assert count(session, WorkOrder, WorkOrder.kind == "failed_followup") == 1
    assert count(session, OutboxMessage) == 6  # 5 notices + 1 letter
    assert all(case_of(session, p).state == "scheduled" for p in plain)
    assert case_of(session, invalid).state == "verification"
    assert case_of(session, special).state == "letter_or_onsite"
    assert {o.due_at for o in session.execute(select(WorkOrder).where(WorkOrder.kind == "verification")).scalars()} \
        == {end_of(2026, 10, 9)}
    assert all(case_of(session, p).verification_reason == "shared_number" for p in shared)

    again = intake(session)
    assert again.created == 0 and count(session, RevisitCase) == 8 and count(session, AuditEntry) == 8 + 5 + 5  # created, transitions, orders


@pytest.mark.postgres
def test_later_receipts_and_shared_numbers_are_audited_on_postgresql(pg_session):
    """The dialect-specific parts: the due-date filter in SQL (date + integer) and the versioned UPDATEs."""
    session = pg_session
    late = make_policy(session, receipt_signed_date=None, receipt_entered_date=None, **holder())
    pair = [make_policy(session, holder_phone=SHARED, **holder(**ROOMY)) for _ in range(2)]
    on_time = make_policy(session, **holder())
    session.commit()
    intake(session, now=at(2026, 9, 11, 6, 0))
    late.receipt_signed_date, late.receipt_entered_date = date(2026, 9, 14), date(2026, 9, 15)
    session.add(late)
    make_policy(session, holder_phone=SHARED, **holder(**ROOMY))
    session.commit()

    result = intake(session, now=TUE_0929)

    assert (result.created, result.cooling_off_filled, result.due_date_moved, result.shared_number_earlier) == (
        1, 1, 1, 2
    )
    assert [e for _, e, _, _ in audit_of(session, case_of(session, late))] == [
        "created", "cooling_off_set", "due_date_moved"
    ]
    assert case_of(session, late).due_date == date(2026, 9, 16)
    assert all(case_of(session, p).verification_reason == "shared_number" for p in pair)
    assert audit_of(session, case_of(session, on_time)) == [(1, "created", "", "scheduled")]


def test_a_supplementary_revisit_waiting_for_its_receipt_falls_due_when_the_period_starts(session):
    """补访 before the receipt was signed is dated provisionally; once signed it is due the day after."""
    p = make_policy(session, receipt_signed_date=None, receipt_entered_date=None, **holder())
    intake(session, now=at(2026, 9, 11, 6, 0))
    case = case_of(session, p)
    case.supplementary_needed, case.due_date = True, date(2026, 10, 27)  # provisional: success day + 15
    session.add(case)
    p.receipt_signed_date = date(2026, 10, 14)
    session.add(p)
    session.commit()
    intake(session, now=at(2026, 10, 15, 6, 0))
    case = case_of(session, p)
    assert (case.cooling_off_end, case.due_date) == (date(2026, 10, 29), date(2026, 10, 15))
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.event == "cooling_off_set")
    ).scalars().one()
    assert entry.payload["due_date"] == "2026-10-15"
