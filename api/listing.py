"""What every list and event route shares: equality filters, a counted page, the manual-event gate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from api.errors import Problem
from statemachines.registry import get_kind


def where_equal(stmt: Any, filters: Mapping[Any, Any]) -> Any:
    """``column == value`` for every filter given (None: not filtered)."""
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def page(
    session: Session, stmt: Any, *, order_by: Iterable[Any], limit: int, offset: int, view: Callable[[Any], Any]
) -> dict[str, Any]:
    """``{"items": [...], "total": n}``: the total of the whole filter, the items of one page."""
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(*order_by).limit(limit).offset(offset)).scalars()
    return {"items": [view(row) for row in rows], "total": total}


def manual_event(
    kind_name: str, event: str, *, who_sends_timed: str, allowed_timed: Iterable[str] = (), **context: Any
) -> None:
    """404 for an event the machine does not declare; 409 for a timed one (the flows send those)."""
    kind = get_kind(kind_name)
    if event not in kind.table:
        raise Problem(404, "Unknown event", f"{kind_name.replace('_', ' ')} has no event {event!r}", "unknown-event",
                      events=sorted(kind.table))
    if event in kind.machine.timed_events and event not in set(allowed_timed):
        raise Problem(409, "Event not allowed", f"{event!r} is a timed event: {who_sends_timed} sends it",
                      "event-not-allowed", **context)
