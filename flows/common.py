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


def progress(key: str, description: str) -> Any:
    """A progress artifact for long runs; returns ``update(percent)`` (a no-op outside a run)."""
    if flow_run_id() is None:
        return lambda percent: None
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)

    def update(percent: float) -> None:
        update_progress_artifact(artifact_id=artifact_id, progress=min(100.0, percent))

    return update


def emit_case_events(events: list[tuple[str, str, int, dict[str, Any]]]) -> int:
    """Domain events (``caseflow.case.escalated`` / ``caseflow.case.late``) with the case as the resource,
    for managers' automations (see automations/). Sent only inside a run: outside one there is no server."""
    if flow_run_id() is None or not events:
        return 0
    from prefect.events import emit_event

    for name, kind, case_id, detail in events:
        emit_event(
            event=name,
            resource={
                "prefect.resource.id": f"caseflow.{kind}.{case_id}",
                "prefect.resource.name": f"{kind} {case_id}",
                "caseflow.kind": kind,
                "caseflow.branch": str(detail.get("branch") or ""),
            },
            payload={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in detail.items()},
        )
    return len(events)


def run_task(task: Any, *args: Any, **kwargs: Any) -> Any:
    """A task run inside a flow run; its plain function when the flow body is called directly (``flow.fn``
    in tests, benches): a task called outside a run would start an ephemeral Prefect server."""
    if flow_run_id() is None:
        return task.fn(*args, **kwargs)
    return task(*args, **kwargs)


TRANSIENT_RETRY_DELAYS = (2.0, 10.0, 30.0)  # seconds: a lock or a dropped connection, not a data error


def in_session(work: Any, /, *, delays: tuple[float, ...] = TRANSIENT_RETRY_DELAYS, sleep: Any = None, **kwargs: Any) -> Any:
    """``work(session, **kwargs)`` in its own session, retried with backoff on transient database errors
    only (every flow is idempotent for its ``as_of``, so a retry finishes what the failed try began);
    anything else — and the last transient failure — is raised, so that the run fails visibly."""
    import time

    from core.db import is_transient, session_scope

    for delay in (*delays, None):
        try:
            with session_scope() as session:
                return work(session, **kwargs)
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            logger().warning("transient database error, retrying in %.0f s: %s", delay, exc)
            (sleep or time.sleep)(delay)
    raise AssertionError("unreachable")



def read_drop_folder(
    *, folder: Any, read_file: Any, import_records: Any, key: str, actor: str, now: datetime
) -> dict[str, Any]:
    """Import every CSV/JSON file of a drop folder with ``import_records(session=, records=, actor=, now=)``,
    then move it to done/ (or failed/ when unreadable); rejected records are listed in failed/<file>.rejected.txt."""
    import shutil

    from core.db import session_scope

    def move(path: Any, target: Any) -> None:
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target / path.name)

    summary: dict[str, Any] = {"files": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "failed": []}
    if not folder.exists():
        return summary
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".json")):
        try:
            records = read_file(path)
        except ValueError as exc:
            summary["failed"].append({"file": path.name, "error": str(exc)})
            move(path, folder / "failed")
            continue
        with session_scope() as session:
            result = import_records(session=session, records=records, actor=actor, now=now)
        summary["files"] += 1
        for name in ("created", "updated", "unchanged"):
            summary[name] += getattr(result, name)
        summary["rejected"] += len(result.rejected)
        if result.rejected:
            (folder / "failed").mkdir(parents=True, exist_ok=True)
            (folder / "failed" / f"{path.stem}.rejected.txt").write_text(
                "\n".join(f"#{r['index']} {r.get(key)}: {r['errors']}" for r in result.rejected), encoding="utf-8"
            )
        move(path, folder / "done")
    return summary
