"""Working-day calendar (SPEC §2.3, §2.4), pinned on the chinese-calendar data for 2026."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from freezegun import freeze_time
from sqlalchemy import func
from sqlmodel import Session, SQLModel, create_engine, select

import models  # noqa: F401  registers every table
from core import calendar as cal_mod
from core.calendar import (
    WorkdayCalendar,
    get_calendar,
    invalidate_calendar,
    load_calendar,
    load_file,
    seed_from_chinese_calendar,
)
from core.settings import CoolingOffRule, get_settings
from models.calendar import CalendarDay, CalendarYear

SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLE = Path(cal_mod.__file__).with_name("calendar_sample_2027.json")


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    # only the calendar tables: these tests need nothing else
    SQLModel.metadata.create_all(engine, tables=[CalendarDay.__table__, CalendarYear.__table__])
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def cal() -> WorkdayCalendar:
    return WorkdayCalendar.from_chinese_calendar()


@pytest.fixture(autouse=True)
def _fresh_cache():
    invalidate_calendar()
    yield
    invalidate_calendar()


def counts(session: Session) -> tuple[int, int]:
    days = session.exec(select(func.count()).select_from(CalendarDay)).one()
    years = session.exec(select(func.count()).select_from(CalendarYear)).one()
    return days, years


def write_json(tmp_path: Path, doc: dict, name: str = "cal2027.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_csv(tmp_path: Path, text: str, name: str = "cal2027.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


YEAR_2027 = {
    "year": 2027,
    "holidays": [{"date": f"2027-10-0{d}", "name": "National Day"} for d in range(1, 8)]
    + [{"date": "2027-01-01", "name": "New Year's Day"}],
    "workdays": [{"date": "2027-10-09", "name": "make-up working day"}, {"date": "2027-09-26"}],
}


# --- the 2026 data as chinese-calendar 1.11 has it ----------------------------------------------


def test_2026_national_day_and_its_make_up_days(cal):
    for d in range(1, 8):
        assert not cal.is_workday(date(2026, 10, d))
        assert cal.holiday_name(date(2026, 10, d)) == "National Day"
    assert cal.is_workday(date(2026, 9, 30))  # Wed before
    assert cal.is_workday(date(2026, 10, 8))  # Thu after
    # make-up days per the package: Sun 2026-09-20 and Sat 2026-10-10
    assert cal.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    assert cal.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert cal.holiday_name(date(2026, 10, 10)) is None
    assert not cal.is_workday(date(2026, 10, 11))  # Sun after: an ordinary weekend
    assert cal.is_holiday(date(2026, 10, 11)) and cal.holiday_name(date(2026, 10, 11)) is None
    # Mid-autumn is its own holiday in 2026, a week before
    assert [cal.holiday_name(date(2026, 9, d)) for d in (25, 26, 27)] == ["Mid-autumn Festival"] * 3


def test_agrees_with_the_package_on_every_day_of_2026(cal):
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_spec_2_4_example_issued_before_national_day(cal):
    assert cal.add_workdays(date(2026, 9, 29), 3) == date(2026, 10, 9)
    assert cal.due_at(date(2026, 9, 29), 3) == datetime(2026, 10, 9, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert cal.due_at(date(2026, 9, 29), 3).utcoffset() == timedelta(0)  # stored as UTC


@freeze_time("2026-10-09 23:30:00", tz_offset=0)
def test_due_at_does_not_depend_on_the_clock(cal):
    assert cal.due_at(date(2026, 9, 29), 3) == datetime(2026, 10, 9, 15, 59, 59, 999999, tzinfo=ZoneInfo("UTC"))


def test_spring_festival_2026(cal):
    # per the package: off Sun 02-15 .. Mon 02-23; make-up Saturdays 02-14 and 02-28
    assert all(not cal.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert cal.holiday_name(date(2026, 2, 17)) == "Spring Festival"
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 2, 28))
    assert cal.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)  # Fri → the make-up Saturday
    assert cal.add_workdays(date(2026, 2, 12), 3) == date(2026, 2, 24)  # 02-13, 02-14, 02-24
    assert cal.add_workdays(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert cal.add_workdays(date(2026, 2, 24), 4) == date(2026, 2, 28)  # 25, 26, 27, Sat 28
    assert cal.next_workday(date(2026, 2, 15)) == date(2026, 2, 24)


def test_make_up_sunday_is_a_working_day(cal):
    assert cal.add_workdays(date(2026, 9, 18), 1) == date(2026, 9, 20)  # Fri → make-up Sun
    assert cal.add_workdays(date(2026, 1, 2), 1) == date(2026, 1, 4)  # holiday Fri → make-up Sun
    assert cal.next_workday(date(2026, 9, 19)) == date(2026, 9, 20)


def test_next_workday_returns_a_working_day_itself(cal):
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 9, 30)
    assert cal.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)


def test_add_workdays_zero_and_backwards(cal):
    assert cal.add_workdays(date(2026, 10, 3), 0) == date(2026, 10, 3)
    assert cal.add_workdays(date(2026, 10, 9), -3) == date(2026, 9, 29)  # the §2.4 example reversed


def test_workdays_between_boundaries(cal):
    assert cal.workdays_between(date(2026, 9, 29), date(2026, 9, 29)) == 0
    assert cal.workdays_between(date(2026, 10, 9), date(2026, 9, 29)) == 0
    assert cal.workdays_between(date(2026, 9, 29), date(2026, 9, 30)) == 1  # b counted
    assert cal.workdays_between(date(2026, 9, 30), date(2026, 10, 7)) == 0  # a not counted
    assert cal.workdays_between(date(2026, 9, 29), date(2026, 10, 9)) == 3
    assert cal.workdays_between(date(2026, 10, 9), date(2026, 10, 10)) == 1  # make-up Saturday
    start = date(2026, 9, 15)
    for n in range(0, 30):
        assert cal.workdays_between(start, cal.add_workdays(start, n)) == n


def test_a_datetime_is_refused(cal):
    with pytest.raises(TypeError):
        cal.is_workday(datetime(2026, 10, 1, tzinfo=SHANGHAI))


# --- cooling-off (SPEC §2.3) -----------------------------------------------------------------------


def test_spec_2_3_example_extends_past_national_day(cal):
    rule = get_settings().cooling_off_rule_for(date(2026, 9, 16))
    assert cal.cooling_off_end(date(2026, 9, 16), 15, rule) == date(2026, 10, 8)
    assert cal.cooling_off_end(date(2026, 9, 16)) == date(2026, 10, 8)  # default 15, rule in force


def test_cooling_off_ending_on_a_working_day_is_not_moved(cal):
    assert cal.cooling_off_end(date(2026, 9, 14), 15) == date(2026, 9, 29)
    assert cal.cooling_off_end(date(2026, 9, 5), 15) == date(2026, 9, 20)  # make-up Sunday


def test_cooling_off_without_extension_rule(cal):
    rule = CoolingOffRule(
        version="test", effective_from=date(2021, 1, 1), default_days=15, min_days=10, extend_to_next_workday=False
    )
    assert cal.cooling_off_end(date(2026, 9, 16), None, rule) == date(2026, 10, 1)


def test_cooling_off_below_the_minimum_is_rejected(cal):
    assert cal.cooling_off_end(date(2026, 9, 21), 10) == date(2026, 10, 8)  # 10 is allowed
    with pytest.raises(ValueError, match="below the minimum of 10"):
        cal.cooling_off_end(date(2026, 9, 16), 9)


# --- a year with no data --------------------------------------------------------------------------


def test_year_without_data_falls_back_to_monday_friday_with_one_warning(session, caplog):
    seed_from_chinese_calendar(session=session, years=[2026])
    cal = load_calendar(session=session)
    with caplog.at_level(logging.WARNING, logger="caseflow.calendar"):
        assert cal.is_workday(date(2027, 10, 1))  # a Friday, whatever 2027's real calendar says
        assert not cal.is_workday(date(2027, 10, 2))
        assert cal.add_workdays(date(2027, 10, 1), 1) == date(2027, 10, 4)
        assert cal.is_workday(date(2026, 10, 8))
    warnings = [r for r in caplog.records if r.name == "caseflow.calendar"]
    assert len(warnings) == 1 and "2027" in warnings[0].getMessage()


# --- seeding and loading --------------------------------------------------------------------------


def test_seed_is_idempotent(session):
    written = seed_from_chinese_calendar(session=session)
    session.commit()
    first = counts(session)
    assert written == first[0] > 0
    assert first[1] == len(cal_mod.package_years())
    assert seed_from_chinese_calendar(session=session) == 0
    session.commit()
    assert counts(session) == first
    seed_from_chinese_calendar(session=session, force=True)
    session.commit()
    assert counts(session) == first
    day = session.get(CalendarDay, date(2026, 10, 1))
    assert (day.is_workday, day.name, day.source) == (False, "National Day", "chinese_calendar")
    makeup = session.get(CalendarDay, date(2026, 10, 10))
    assert (makeup.is_workday, makeup.name) == (True, "make-up working day")


def test_seed_skips_years_the_package_does_not_cover(session):
    assert seed_from_chinese_calendar(session=session, years=[2026, 2199]) > 0
    assert session.exec(select(CalendarYear.year)).all() == [2026]


def test_seeded_database_matches_the_package(session, cal):
    seed_from_chinese_calendar(session=session)
    from_db = load_calendar(session=session)
    assert from_db.loaded_years == cal.loaded_years
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        assert from_db.is_workday(day) == cal.is_workday(day), day
        day += timedelta(days=1)


def test_load_json_adds_2027(session, tmp_path, caplog):
    seed_from_chinese_calendar(session=session, years=[2026])
    assert load_file(session=session, path=write_json(tmp_path, YEAR_2027)) == 10
    session.commit()
    cal = load_calendar(session=session)
    with caplog.at_level(logging.WARNING, logger="caseflow.calendar"):
        assert not cal.is_workday(date(2027, 10, 1))
        assert cal.holiday_name(date(2027, 10, 4)) == "National Day"
        assert cal.is_workday(date(2027, 9, 26))  # make-up Sunday, default name
        assert cal.add_workdays(date(2027, 9, 30), 1) == date(2027, 10, 8)
        assert cal.add_workdays(date(2027, 9, 30), 2) == date(2027, 10, 9)  # make-up Saturday
    assert not caplog.records  # 2027 is loaded now
    assert session.get(CalendarYear, 2027).source == "file"
    assert session.get(CalendarDay, date(2027, 9, 26)).name == "make-up working day"


def test_loading_a_year_again_replaces_it(session, tmp_path):
    load_file(session=session, path=write_json(tmp_path, YEAR_2027))
    smaller = {"year": 2027, "holidays": [{"date": "2027-01-01", "name": "New Year's Day"}]}
    assert load_file(session=session, path=write_json(tmp_path, smaller, "v2.json")) == 1
    session.commit()
    assert counts(session) == (1, 1)
    assert load_calendar(session=session).is_workday(date(2027, 10, 1))


def test_load_csv_adds_2027(session, tmp_path):
    path = write_csv(
        tmp_path,
        "date,is_workday,name\n2027-10-01,false,National Day\n2027-10-04,FALSE,National Day\n2027-10-09,true,\n",
    )
    assert load_file(session=session, path=path) == 3
    session.commit()
    cal = load_calendar(session=session)
    assert not cal.is_workday(date(2027, 10, 4))
    assert cal.is_workday(date(2027, 10, 9))
    assert cal.holiday_name(date(2027, 10, 1)) == "National Day"
    assert session.get(CalendarDay, date(2027, 10, 9)).source == "file"


def test_the_sample_file_documents_a_loadable_format(session):
    assert load_file(session=session, path=SAMPLE) == 25
    cal = load_calendar(session=session)
    assert cal.is_workday(date(2027, 10, 9)) and not cal.is_workday(date(2027, 10, 1))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.json", {**YEAR_2027, "holidays": [{"date": "2028-01-01"}]}, r"holidays\[0\]: 2028-01-01 is not in 2027"),
        ("a.json", {**YEAR_2027, "workdays": [{"date": "2027-02-30"}]}, r"workdays\[0\]: '2027-02-30' is not a date"),
        ("a.json", {**YEAR_2027, "workdays": [{"date": "2027-10-01"}]}, r"2027-10-01 is already listed at holidays"),
        ("a.json", {"year": "2027", "holidays": []}, "year must be an integer"),
        ("a.json", {"year": 2027, "holiday": []}, "unknown keys"),
        ("a.json", "{not json", "not valid JSON"),
        ("a.csv", "date,is_workday,name\n2027-10-01,false,National Day\n2027-10-02,maybe,x\n", "line 3: is_workday"),
        ("a.csv", "date,is_workday,name\n2027-10-01,false,x\n2028-10-02,false,x\n", "line 3: 2028-10-02 is not in"),
        ("a.csv", "day,workday\n2027-10-01,false\n", "line 1: header"),
        ("a.csv", "date,is_workday,name\n", "no days listed"),
        ("a.txt", "2027-10-01", ".json or .csv"),
    ],
)
def test_a_bad_file_is_rejected_and_changes_nothing(session, tmp_path, name, content, message):
    seed_from_chinese_calendar(session=session, years=[2026])
    load_file(session=session, path=write_json(tmp_path, YEAR_2027, "good.json"))
    session.commit()
    before = counts(session)
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_file(session=session, path=path)
    session.rollback()
    assert counts(session) == before
    assert not load_calendar(session=session).is_workday(date(2027, 10, 1))


# --- the process-wide cache -----------------------------------------------------------------------


def test_get_calendar_seeds_an_empty_database_and_caches(session, tmp_path):
    cal = get_calendar(session)
    assert cal.add_workdays(date(2026, 9, 29), 3) == date(2026, 10, 9)
    assert counts(session)[1] == len(cal_mod.package_years())
    load_file(session=session, path=write_json(tmp_path, YEAR_2027))
    session.commit()
    assert get_calendar(session) is cal  # cached until invalidated
    assert cal.is_workday(date(2027, 10, 1))
    invalidate_calendar()
    assert not get_calendar(session).is_workday(date(2027, 10, 1))


def test_get_calendar_without_a_session_seeds_and_commits(engine):
    # `engine` (tests/conftest.py) points the project's session_scope at a fresh temporary SQLite file
    due = get_calendar().due_at(date(2026, 9, 29), 3)
    assert due == datetime(2026, 10, 9, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    with Session(engine) as other:
        assert counts(other)[1] == len(cal_mod.package_years())
