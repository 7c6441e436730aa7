"""Glue between flows and the domain: the moment, the context, the run id (one private place for Prefect)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from core import clock
from core.calendar import get_calendar
from core.settings import get_settings
from domain.revisits import Ctx


def flow_run_id() -> str | None:
    """The current Prefect flow run id, or None when the function runs outside Prefect (tests, CLI .fn)."""
    try:
        from prefect.runtime import flow_run

        run_id = flow_run.id
        return str(run_id) if run_id else None
    except Exception:  # outside a run there is simply no id
        return None


def logger() -> logging.Logger | Any:
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # outside a run context Prefect has no run logger
        return logging.getLogger("caseflow.flows")


def flow_ctx(as_of: datetime | None, flow_name: str) -> Ctx:
    """The moment the flow acts for (``as_of`` or now) and the rules in force."""
    now = clock.as_utc(as_of) if as_of is not None else clock.now()
    return Ctx(
        now=now,
        actor=f"flow:{flow_name}",
        settings=get_settings(),
        calendar=get_calendar(),
        flow_run_id=flow_run_id(),
    )


def publish_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    """A keyed table artifact for managers in the Prefect UI (no-op outside a run)."""
    if flow_run_id() is None:
        return
    from prefect.artifacts import create_table_artifact

    create_table_artifact(key=key, table=rows, description=description)


def publish_markdown(key: str, markdown: str, description: str) -> None:
    if flow_run_id() is None:
        return
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=key, markdown=markdown, description=description)
