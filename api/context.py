"""The per-request domain context: who acts, now, and the rules in force."""

from __future__ import annotations

from sqlmodel import Session

from api.deps import actor
from core import clock
from core.calendar import get_calendar
from core.settings import get_settings
from domain.revisits import Ctx
from models import User


def request_ctx(session: Session, user: User) -> Ctx:
    """The calendar is loaded through the request's own session: on SQLite that session already holds
    the write lock (BEGIN IMMEDIATE), and a second connection would wait on it until the busy timeout."""
    return Ctx(now=clock.now(), actor=actor(user), settings=get_settings(), calendar=get_calendar(session))
