"""The working-day calendar as data (SPEC §2.4)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class CalendarDay(SQLModel, table=True):
    """A day that differs from the Mon–Fri rule, or confirms it: a holiday or a make-up working day (调休)."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    is_workday: bool
    name: str | None = None  # e.g. "National Day", "Spring Festival"
    source: str = "chinese_calendar"  # chinese_calendar | file | api


class CalendarYear(SQLModel, table=True):
    """A year whose official calendar is loaded (a year missing here falls back to Mon–Fri)."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True)
    source: str = "chinese_calendar"
