"""Set-based SQL helpers for the bulk paths (import, intake): one statement per chunk, on both databases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, bindparam, func


def among(stmt: Any, column: Any, values: Sequence[Any], dialect: str, item_type: Any) -> Any:
    """``stmt`` restricted to ``column IN values``.

    On PostgreSQL a join with ``unnest(:array)``: one parameter (psycopg parses the text once, not a
    1000-placeholder statement per chunk), and a nested loop on the column's index whatever the
    statistics say — ``= ANY(:array)`` over a table whose statistics predate this run's inserts gets a
    sequential scan that compares every row with every element: quadratic over a 100 000-row run.
    """
    if dialect == "postgresql":
        wanted = func.unnest(bindparam(None, list(values), type_=ARRAY(item_type))).table_valued("v").render_derived()
        return stmt.join(wanted, column == wanted.c.v)
    return stmt.where(column.in_(list(values)))


def json_object(dialect: str, *pairs: Any) -> Any:
    """A JSON object built in SQL from ``key, value, …`` (for INSERT … SELECT of audit payloads)."""
    return (func.json_build_object if dialect == "postgresql" else func.json_object)(*pairs)
