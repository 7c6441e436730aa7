"""The only place that reads the wall clock; everything else takes ``now`` / ``as_of``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from core.settings import get_settings

UTC = timezone.utc


def tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def now() -> datetime:
    """Current moment, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (how rows store it)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local(moment: datetime) -> datetime:
    """The moment in Asia/Shanghai (the zone every rule is counted in)."""
    return as_utc(moment).astimezone(tz())


def local_date(moment: datetime) -> date:
    return local(moment).date()


def start_of_day(day: date) -> datetime:
    """00:00 of ``day`` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=tz()).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The end of ``day`` in Asia/Shanghai (23:59:59.999999), as UTC: where day-counted rules fall due."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)


def at_local(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=tz()).astimezone(UTC)


def parse_as_of(value: str | None) -> datetime:
    """An ISO-8601 moment (naive means Asia/Shanghai), or now."""
    if not value:
        return now()
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz())
    return parsed.astimezone(UTC)
