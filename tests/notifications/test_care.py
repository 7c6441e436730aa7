"""Customer care (客户关怀): birthdays on the day, festivals, once per customer and year, opt-outs honoured."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import select
from sqlmodel import Session

from core.clock import UTC, at_local
from core.settings import get_settings
from domain.care import birthday_days, queue_greetings, set_opt_out
from models import OutboxMessage, Policy
from tests.factories import make_policy


def _eight_am(day: date) -> datetime:
    from datetime import time

    return at_local(day, time(8, 0))


def _greetings(session: Session) -> list[tuple[str, str, dict]]:
    rows = session.execute(
        select(OutboxMessage.template, OutboxMessage.recipient, OutboxMessage.context).order_by(OutboxMessage.id)
    ).all()
    session.rollback()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _run(session: Session, day: date | datetime) -> dict[str, int]:
    now = day if isinstance(day, datetime) else _eight_am(day)
    session.commit()
    out = queue_greetings(session, now=now, settings=get_settings())
    session.rollback()
    return out


def test_birthday_on_the_day_only(session: Session) -> None:
    today = make_policy(session, holder_birth_date=date(1980, 9, 29), holder_name="张丽", holder_id_number="A1")
    make_policy(session, holder_birth_date=date(1980, 9, 30), holder_id_number="A2")
    make_policy(session, holder_birth_date=None, holder_id_number="A3")
    assert _run(session, date(2026, 9, 29)) == {"birthday": 1}
    assert _greetings(session) == [("birthday_greeting", f"policy:{today.policy_no}", {"customer_name": "张丽"})]


def test_the_day_is_counted_in_asia_shanghai(session: Session) -> None:
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1")
    # 23:59 UTC on the 28th is already 07:59 on the 29th in Shanghai; 15:59 UTC on the 28th is still the 28th
    assert _run(session, datetime(2026, 9, 28, 15, 59, tzinfo=UTC)) == {"birthday": 0}
    assert _run(session, datetime(2026, 9, 28, 16, 0, tzinfo=UTC)) == {"birthday": 1}


@pytest.mark.parametrize(
    ("day", "greeted"),
    [
        (date(2027, 2, 28), True),  # common year: the 29th-born are greeted on the 28th (decided, settings)
        (date(2027, 3, 1), False),
        (date(2028, 2, 28), False),  # leap year: on their own day …
        (date(2028, 2, 29), True),
    ],
)
def test_birthday_on_29_february(session: Session, day: date, greeted: bool) -> None:
    make_policy(session, holder_birth_date=date(1992, 2, 29), holder_id_number="LEAP")
    assert _run(session, day) == {"birthday": int(greeted)}


def test_leap_day_rule_can_be_switched_off() -> None:
    s = get_settings().model_copy(update={"care_leap_birthday_on_feb_28": False})
    assert birthday_days(date(2027, 2, 28), s) == [(2, 28)]
    assert birthday_days(date(2027, 2, 28), get_settings()) == [(2, 28), (2, 29)]


def test_one_greeting_per_customer_and_year_across_policies_and_runs(session: Session) -> None:
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1", policy_no="P0000000002")
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1", policy_no="P0000000001")
    assert _run(session, date(2026, 9, 29)) == {"birthday": 1}
    assert [r[1] for r in _greetings(session)] == ["policy:P0000000001"]
    # the second run of the day, and a re-run later the same day, queue nothing
    assert _run(session, date(2026, 9, 29)) == {"birthday": 0}
    assert _run(session, _eight_am(date(2026, 9, 29)) + timedelta(hours=10)) == {"birthday": 0}
    assert len(_greetings(session)) == 1
    # next year: greeted again
    assert _run(session, date(2027, 9, 29)) == {"birthday": 1}


def test_customers_without_id_number_are_told_apart_by_phone(session: Session) -> None:
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number=None, holder_phone="13800000001")
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number=None, holder_phone="13800000002")
    assert _run(session, date(2026, 9, 29)) == {"birthday": 2}


def test_opted_out_customer_gets_nothing(session: Session) -> None:
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1")
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1", holder_opted_out=True)
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="B1", holder_is_natural_person=False)
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="C1", holder_phone=None)
    # A1 opted out on one of two policies (= as a customer); B1 is a company; C1 has no phone
    assert _run(session, date(2026, 9, 29)) == {"birthday": 0}


def test_set_opt_out_covers_every_policy_of_the_holder(session: Session) -> None:
    a = make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1")
    make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1")
    make_policy(session, holder_id_number="B1")
    session.commit()
    assert set_opt_out(session, policy_no=a.policy_no) == 2
    flags = dict(session.execute(select(Policy.holder_id_number, Policy.holder_opted_out)).all())
    assert flags == {"A1": True, "B1": False}
    assert _run(session, date(2026, 9, 29)) == {"birthday": 0}
    assert set_opt_out(session, policy_no=a.policy_no, opted_out=False) == 2
    assert _run(session, date(2026, 9, 29)) == {"birthday": 1}
    with pytest.raises(LookupError):
        set_opt_out(session, policy_no="NOPE")


@pytest.mark.parametrize(
    ("day", "festival", "name_zh"),
    [(date(2026, 9, 25), "mid_autumn", "中秋节"), (date(2026, 10, 1), "national_day", "国庆节"),
     (date(2026, 2, 17), "spring_festival", "春节")],
)
def test_festival_greetings_on_the_festival_day(session: Session, day: date, festival: str, name_zh: str) -> None:
    make_policy(session, holder_id_number="A1", holder_name="张丽", holder_birth_date=date(1980, 3, 2))
    make_policy(session, holder_id_number="A1", holder_name="张丽")  # same customer, second policy
    make_policy(session, holder_id_number="B1", holder_name="李四")
    make_policy(session, holder_id_number="C1", holder_opted_out=True)
    assert _run(session, day) == {"birthday": 0, festival: 2}
    assert sorted(r[2]["customer_name"] for r in _greetings(session)) == ["张丽", "李四"]
    assert {r[2]["festival"] for r in _greetings(session)} == {name_zh}
    assert _run(session, day) == {"birthday": 0, festival: 0}


def test_no_festival_the_day_after_or_on_a_holiday_that_is_not_the_festival(session: Session) -> None:
    make_policy(session, holder_id_number="A1")
    assert _run(session, date(2026, 9, 26)) == {"birthday": 0}
    assert _run(session, date(2026, 10, 2)) == {"birthday": 0}  # inside the National Day holiday, not the day


def test_every_festival_day_lies_in_the_official_holiday_of_its_name() -> None:
    """The settings table agrees with the State Council notices chinese-calendar carries (where it has them)."""
    names = {"spring_festival": "Spring Festival", "mid_autumn": "Mid-autumn Festival", "national_day": "National Day"}
    checked = 0
    for festival in get_settings().care_festivals:
        if festival.key == "national_day":
            assert (festival.day.month, festival.day.day) == (10, 1)
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(festival.day)
        except NotImplementedError:  # a year the package does not cover yet
            continue
        assert on_holiday and name == names[festival.key], festival
        checked += 1
    assert checked >= 6


def test_opt_out_from_the_command_line(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main

    p = make_policy(session, holder_birth_date=date(1980, 9, 29), holder_id_number="A1")
    session.commit()
    assert main(["customers", "opt-out", p.policy_no]) == 0
    assert "opted out of greetings (1 policies)" in capsys.readouterr().out
    assert _run(session, date(2026, 9, 29)) == {"birthday": 0}
    assert main(["customers", "opt-out", "NOPE"]) == 2
    assert main(["customers", "opt-out", p.policy_no, "--undo"]) == 0
    assert _run(session, date(2026, 9, 29)) == {"birthday": 1}
