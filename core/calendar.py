"""The working-day calendar (工作日, SPEC §2.4): official holidays and make-up working days (调休) as data."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import chinese_calendar
from sqlalchemy import and_, delete, insert, or_
from sqlmodel import Session, select

from core.clock import end_of_day
from core.db import session_scope
from core.settings import CoolingOffRule, get_settings
from models.calendar import CalendarDay, CalendarYear

log = logging.getLogger("caseflow.calendar")

MAKE_UP_NAME = "make-up working day"
SOURCE_PACKAGE = "chinese_calendar"
SOURCE_FILE = "file"

Override = tuple[bool, str | None]  # (is_workday, name)
DayRow = tuple[date, bool, str | None]  # (day, is_workday, name)


class WorkdayCalendar:
    """An immutable in-memory view of the calendar; every method is pure (dates are Asia/Shanghai)."""

    def __init__(self, overrides: Mapping[date, Override], loaded_years: Iterable[int]) -> None:
        self._overrides: Mapping[date, Override] = MappingProxyType(dict(overrides))
        self._years: frozenset[int] = frozenset(loaded_years)
        self._warned: set[int] = set()  # bookkeeping for the log only, not part of the calendar's value

    @classmethod
    def from_chinese_calendar(cls) -> WorkdayCalendar:
        """Straight from the chinese-calendar package, no database (unit tests, benches)."""
        overrides = _package_overrides()
        return cls({d: (w, n) for d, (w, n) in overrides.items()}, {d.year for d in overrides})

    @property
    def loaded_years(self) -> frozenset[int]:
        return self._years

    def is_workday(self, d: date) -> bool:
        """Official calendar where loaded; Monday–Friday (with a warning) for a year with no data."""
        # a datetime would silently miss every override (datetime != date); it is usually a UTC moment too
        if isinstance(d, datetime):
            raise TypeError(f"pass a local date (core.clock.local_date), not a datetime: {d!r}")
        override = self._overrides.get(d)
        if override is not None:
            return override[0]
        if d.year not in self._years and d.year not in self._warned:
            self._warned.add(d.year)
            log.warning(
                "no official calendar loaded for %s: counting Monday-Friday as working days "
                "(load the year with `caseflow calendar load FILE`)",
                d.year,
            )
        return d.weekday() < 5

    def is_holiday(self, d: date) -> bool:
        """Not a working day (a public holiday or an ordinary weekend), as chinese_calendar.is_holiday."""
        return not self.is_workday(d)

    def holiday_name(self, d: date) -> str | None:
        """The public holiday's name ("National Day"), or None for a working day or a plain weekend."""
        override = self._overrides.get(d)
        if override is None or override[0]:
            return None
        return override[1]

    def next_workday(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after ``d``, ``d`` not counted (n = 0 → d; n < 0 counts backwards)."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_workday(d):
                remaining -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: ``a`` not counted, ``b`` counted; 0 when b <= a."""
        return sum(self.is_workday(a + timedelta(days=k)) for k in range(1, (b - a).days + 1))

    def due_at(self, issued: date, n_workdays: int) -> datetime:
        """End (Asia/Shanghai, as UTC) of the n-th working day after ``issued`` (SPEC §2.4)."""
        return end_of_day(self.add_workdays(issued, n_workdays))

    def cooling_off_end(self, signed: date, days: int | None = None, rule: CoolingOffRule | None = None) -> date:
        """Last day of the cooling-off period (犹豫期, SPEC §2.3); it ends at the end of that day."""
        rule = rule or get_settings().cooling_off_rule_for(signed)
        n = rule.default_days if days is None else days
        if n < rule.min_days:
            raise ValueError(
                f"cooling-off period of {n} days is below the minimum of {rule.min_days} days "
                f"(rule {rule.version})"
            )
        last = signed + timedelta(days=n)  # the signed day is not counted (民法典 Art. 201)
        # 节假日顺延 (民法典 Art. 203): a period ending on a day off runs to the next working day
        return self.next_workday(last) if rule.extend_to_next_workday else last


# --- the chinese-calendar package ---------------------------------------------------------------


@lru_cache
def _package_overrides() -> Mapping[date, Override]:
    """Every holiday and every weekend make-up working day the package knows."""
    days: dict[date, Override] = {}
    for d, name in chinese_calendar.holidays.items():
        days[d] = (False, str(getattr(name, "value", name)))
    for d in chinese_calendar.workdays:
        if d.weekday() >= 5:  # a weekday "workday" would change nothing
            days[d] = (True, MAKE_UP_NAME)
    return MappingProxyType(days)


def package_years() -> list[int]:
    """The years the installed chinese-calendar package has data for."""
    return sorted({d.year for d in _package_overrides()})


def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:  # the package's way of saying "no data for that year"
        return False
    return True


# --- persistence ----------------------------------------------------------------------------------


def _replace_years(session: Session, days_by_year: Mapping[int, list[DayRow]], source: str) -> int:
    """Delete and re-insert the rows of each year and mark it loaded; flushes, never commits."""
    years = sorted(days_by_year)
    session.execute(
        delete(CalendarDay).where(
            or_(*(and_(CalendarDay.day >= date(y, 1, 1), CalendarDay.day <= date(y, 12, 31)) for y in years))
        )
    )
    rows = [
        {"day": d, "is_workday": w, "name": n, "source": source}
        for y in years
        for d, w, n in days_by_year[y]
    ]
    if rows:
        session.execute(insert(CalendarDay), rows)
    existing = {r.year: r for r in session.exec(select(CalendarYear).where(CalendarYear.year.in_(years)))}
    for y in years:
        if y in existing:
            existing[y].source = source
        else:
            session.add(CalendarYear(year=y, source=source))
    session.flush()
    return len(rows)


def seed_from_chinese_calendar(*, session: Session, years: Iterable[int] | None = None, force: bool = False) -> int:
    """Load the package's years (or those given) not loaded yet, or all with ``force``; returns days written."""
    wanted = package_years() if years is None else [y for y in years if _package_covers(y)]
    loaded = set(session.exec(select(CalendarYear.year)).all())
    # a loaded year may have come from a file (a newer notice): never overwrite it unasked
    todo = [y for y in wanted if force or y not in loaded]
    if not todo:
        return 0
    overrides = _package_overrides()
    by_year: dict[int, list[DayRow]] = {y: [] for y in todo}
    for d, (w, n) in sorted(overrides.items()):
        if d.year in by_year:
            by_year[d.year].append((d, w, n))
    return _replace_years(session, by_year, SOURCE_PACKAGE)


def load_file(*, session: Session, path: str | Path) -> int:
    """Replace one year from a JSON or CSV file (format: core/calendar_sample_2027.json); returns days loaded."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: spreadsheets save CSV with a BOM
    suffix = path.suffix.lower()
    if suffix == ".json":
        year, rows = _parse_json(text, path.name)
    elif suffix == ".csv":
        year, rows = _parse_csv(text, path.name)
    else:
        raise ValueError(f"{path.name}: calendar files are .json or .csv, not {suffix or 'no extension'!r}")
    # everything is validated above, so a bad file changes nothing
    return _replace_years(session, {year: rows}, SOURCE_FILE)


def _parse_date(value: object, where: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{where}: date must be a string YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date YYYY-MM-DD") from None


def _check_rows(rows: list[tuple[str, DayRow]], year: int, filename: str) -> list[DayRow]:
    """Every day in ``year`` and listed once; ``where`` names the entry or line for the message."""
    seen: dict[date, str] = {}
    for where, (d, _, _) in rows:
        if d.year != year:
            raise ValueError(f"{filename}: {where}: {d} is not in {year} (a file describes one year)")
        if d in seen:
            raise ValueError(f"{filename}: {where}: {d} is already listed at {seen[d]}")
        seen[d] = where
    return [row for _, row in rows]


def _parse_json(text: str, filename: str) -> tuple[int, list[DayRow]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{filename}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{filename}: expected an object with year, holidays, workdays")
    unknown = set(doc) - {"year", "holidays", "workdays", "note"}
    if unknown:  # a misspelt "holiday" key would otherwise load an empty year
        raise ValueError(f"{filename}: unknown keys {sorted(unknown)}; expected year, holidays, workdays, note")
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise ValueError(f"{filename}: year must be an integer, got {year!r}")
    rows: list[tuple[str, DayRow]] = []
    for key, is_workday in (("holidays", False), ("workdays", True)):
        entries = doc.get(key, [])
        if not isinstance(entries, list):
            raise ValueError(f"{filename}: {key} must be a list")
        for i, entry in enumerate(entries):
            where = f"{key}[{i}]"
            if not isinstance(entry, dict) or "date" not in entry:
                raise ValueError(f"{filename}: {where}: expected {{\"date\": \"YYYY-MM-DD\", \"name\": ...}}")
            name = entry.get("name")
            if name is not None and not isinstance(name, str):
                raise ValueError(f"{filename}: {where}: name must be a string, got {name!r}")
            default = MAKE_UP_NAME if is_workday else None
            rows.append((where, (_parse_date(entry["date"], f"{filename}: {where}"), is_workday, name or default)))
    return year, _check_rows(rows, year, filename)


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_csv(text: str, filename: str) -> tuple[int, list[DayRow]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if header[:2] != ["date", "is_workday"] or header[2:] not in ([], ["name"]):
        raise ValueError(f"{filename}: line 1: header must be date,is_workday,name, got {','.join(header)!r}")
    reader.fieldnames = header
    rows: list[tuple[str, DayRow]] = []
    for record in reader:
        where = f"line {reader.line_num}"
        if None in record:  # DictReader files surplus cells under the None key
            raise ValueError(f"{filename}: {where}: too many columns")
        d = _parse_date(record["date"], f"{filename}: {where}")
        flag = _BOOLS.get((record["is_workday"] or "").strip().lower())
        if flag is None:
            raise ValueError(f"{filename}: {where}: is_workday must be true or false, got {record['is_workday']!r}")
        name = (record.get("name") or "").strip() or (MAKE_UP_NAME if flag else None)
        rows.append((where, (d, flag, name)))
    if not rows:
        raise ValueError(f"{filename}: no days listed, so no year to load")
    year = rows[0][1][0].year
    return year, _check_rows(rows, year, filename)


def load_calendar(*, session: Session) -> WorkdayCalendar:
    """A WorkdayCalendar of every CalendarDay and CalendarYear row."""
    overrides = {r.day: (r.is_workday, r.name) for r in session.exec(select(CalendarDay))}
    return WorkdayCalendar(overrides, session.exec(select(CalendarYear.year)).all())


# --- process-wide cache ---------------------------------------------------------------------------

_cached: WorkdayCalendar | None = None
_cache_lock = threading.Lock()


def get_calendar(session: Session | None = None) -> WorkdayCalendar:
    """The calendar, loaded once per process; package years missing from the table are seeded first."""
    global _cached
    if _cached is not None:
        return _cached
    with _cache_lock:
        if _cached is None:
            _cached = _load_seeding(session)
        return _cached


def _load_seeding(session: Session | None) -> WorkdayCalendar:
    if session is not None:
        # the caller's transaction: flushed here, the caller commits (session_scope's contract)
        seed_from_chinese_calendar(session=session)
        return load_calendar(session=session)
    with session_scope() as own:
        seed_from_chinese_calendar(session=own)
        own.commit()  # so a fresh database keeps its calendar
        return load_calendar(session=own)


def invalidate_calendar() -> None:
    """Forget the cached calendar (call after committing a change to the calendar tables)."""
    global _cached
    with _cache_lock:
        _cached = None
