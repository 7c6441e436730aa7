"""Column helpers shared by every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from core.db import UTCDateTime


def utc_field(*, index: bool = False, nullable: bool = True, default: Any = None) -> Any:
    """A timestamp column stored as UTC (see ``core.db.UTCDateTime``)."""
    return Field(default=default, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def nullable_json_field() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


__all__ = ["utc_field", "json_field", "nullable_json_field", "datetime"]
