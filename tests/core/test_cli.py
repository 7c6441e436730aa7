"""The command line of SPEC §4.2 against the configured database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from core.calendar import get_calendar, invalidate_calendar
from core.cli import main
from core.users import user_for_token
from models import CalendarYear, User

SAMPLE = Path(__file__).resolve().parents[2] / "core" / "calendar_sample_2027.json"


def test_db_upgrade_then_users_add_prints_token_last(engine, session: Session, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["db", "upgrade"]) == 0
    assert main(["users", "add", "bob", "--role", "branch_staff", "--branch", "SH01"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    user = user_for_token(session=session, token=token)
    assert user is not None and (user.name, user.role, user.branch_code) == ("bob", "branch_staff", "SH01")
    assert session.execute(select(User.token_hash)).scalar_one() != token  # stored hashed only


def test_users_add_rejects_bad_role_and_branchless_staff(engine, session: Session, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["users", "add", "x", "--role", "janitor"]) == 2
    assert main(["users", "add", "y", "--role", "branch_staff"]) == 2
    assert "needs --branch" in capsys.readouterr().err
    assert session.execute(select(User)).first() is None


def test_calendar_load_adds_a_year(engine, session: Session) -> None:  # type: ignore[no-untyped-def]
    before = get_calendar()
    assert 2027 not in before.loaded_years
    assert main(["calendar", "load", str(SAMPLE)]) == 0
    invalidate_calendar()
    assert 2027 in get_calendar().loaded_years
    assert session.get(CalendarYear, 2027).source == "file"
    assert get_calendar().is_workday(date(2027, 1, 1)) is False  # New Year's Day in the file


def test_flows_run_unknown_name(engine, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["flows", "run", "no-such-flow"]) == 2
    assert "intake-new-contracts" in capsys.readouterr().err
