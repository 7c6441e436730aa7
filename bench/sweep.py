"""Bench of the revisit sweep: its cost follows the *due* cases, not the open ones (SPEC §5, §7).

For each backend (SQLite file, PostgreSQL when reachable) two databases are loaded:
  small — ``--due`` open revisit cases, every one of them due;
  large — ``--open`` open revisit cases (default 1 000 000), ``--due`` of them due, spread over the ids.
A due case is one whose cooling-off period has just ended (``deadline_event = cooling_off_expired``,
``next_deadline_at`` an hour ago); the others wait for a deadline a month away. On each database:

(a) raw   — hand-written SQL per batch of ``--batch``: ``SELECT id … WHERE state IN (…) AND next_deadline_at
            <= now LIMIT batch`` through the same index, ``UPDATE revisit_case …`` (late, pointer, version) and
            ``INSERT INTO audit_entry … SELECT``, one commit per batch;
(b) raw+outbox — (a) plus the supervisor's ``revisit_late`` outbox row per case, as the sweep writes it;
(c) sweep — ``domain.sweep.run_sweep``: every step of the real sweep (arm, attempt windows, cooling-off,
            work-order overdue and quality list), the same as one ``revisit-sweep`` run does.

Every phase starts from the same rows (reset, audit and outbox emptied, vacuumed/checkpointed); raw and
sweep alternate over ``--repeat`` rounds and the best of each is kept. Each phase is checked: exactly
``--due`` cases late, one audit row each. The number of Prefect task runs per sweep is counted by running
the flow body once with a counting ``run_task``.

    .venv/bin/python bench/sweep.py [--open 1000000] [--due 10000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.common import (  # noqa: E402
    available_backends,
    backend_url,
    fmt_ratio,
    fmt_seconds,
    machine_info,
    print_machine,
    print_table,
    project_engine,
    timed,
    vacuum,
)
from core.calendar import WorkdayCalendar  # noqa: E402
from core.clock import UTC  # noqa: E402
from core.db import UTCDateTime  # noqa: E402
from core.settings import get_settings  # noqa: E402
from domain import sweep  # noqa: E402
from domain.revisits import Ctx  # noqa: E402
from models import AuditEntry, OutboxMessage, RevisitCase  # noqa: E402

NOW = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # 09:00 on 10-09, Asia/Shanghai
DUE_AT = NOW - timedelta(hours=1)
LATER = NOW + timedelta(days=30)
T0 = datetime(2026, 9, 20, 2, 0, tzinfo=UTC)
LOAD_CHUNK = 20_000


def load(engine: Engine, n_open: int, n_due: int) -> None:
    """One policy and ``n_open`` open cases in ``problem`` (nothing else due), ``n_due`` of them due, spread out."""
    from tests.factories import make_policy

    with Session(engine, expire_on_commit=False) as session:
        policy = make_policy(session)
        session.commit()
        policy_id, policy_no = policy.id, policy.policy_no
    step = max(1, n_open // n_due)
    table = RevisitCase.__table__
    with engine.begin() as conn:
        for start in range(0, n_open, LOAD_CHUNK):
            rows = []
            for i in range(start, min(n_open, start + LOAD_CHUNK)):
                due = i % step == 0 and i // step < n_due
                rows.append({
                    "kind": "new_contract", "policy_id": policy_id, "policy_no": policy_no, "claim_no": f"B{i}",
                    "branch_code": f"B{i % 40:02d}", "channel": "agency", "state": "problem",
                    "classification": "problem", "sub_types": [], "flags": [], "failure_reasons": [], "answers": {},
                    "due_date": date(2026, 9, 20), "cooling_off_end": date(2026, 10, 8) if due else date(2026, 11, 9),
                    "special_revisit": False, "supplementary_needed": False, "late": False, "priority": 0,
                    "attempt_count": 0, "attempts_today": 0, "recall_count": 0, "version": 1,
                    "deadline_event": "cooling_off_expired" if due else "cooling_off_deadline_near",
                    # pointers spread over the month ahead, as a live book's are (one per minute of it)
                    "next_deadline_at": DUE_AT if due else LATER + timedelta(minutes=i % 43_200),
                    "created_at": T0, "updated_at": T0,
                })
            conn.execute(insert(table), rows)


def reset(engine: Engine) -> None:
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE revisit_case SET late=:f, version=1, deadline_event='cooling_off_expired', next_deadline_at=:due "
                "WHERE cooling_off_end = :end"
            ).bindparams(bindparam("due", type_=UTCDateTime())),
            {"f": False, "due": DUE_AT, "end": date(2026, 10, 8)},
        )
        for table in ("audit_entry", "outbox_message"):
            conn.execute(text(f"TRUNCATE {table}" if pg else f"DELETE FROM {table}"))
    vacuum(engine, "revisit_case", "audit_entry", "outbox_message")


def check(engine: Engine, due: int, outbox: bool) -> None:
    with engine.connect() as conn:
        late = conn.execute(select(func.count()).select_from(RevisitCase).where(RevisitCase.late.is_(True))).scalar_one()
        audits = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        messages = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    if late != due or audits != due or messages != (due if outbox else 0):
        raise AssertionError(f"expected {due} late cases and audit rows, got {late} / {audits} / {messages} messages")


def run_raw(engine: Engine, batch: int, outbox: bool) -> int:
    pg = engine.dialect.name == "postgresql"
    payload = "'{}'::json" if pg else "'{}'"
    states = ", ".join(f"'{s}'" for s in sweep.OPEN_STATES)
    pick = text(
        f"SELECT id FROM revisit_case WHERE state IN ({states}) AND next_deadline_at <= :now "
        "ORDER BY next_deadline_at, id LIMIT :n"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    update = text(
        "UPDATE revisit_case SET late=:t, deadline_event='done', next_deadline_at=NULL, version=version+1, "
        "updated_at=:now WHERE id IN :ids AND state='problem'"
    ).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime()))
    audit = text(
        "INSERT INTO audit_entry (case_kind, case_id, version, event, source, target, actor, at, payload, flow_run_id) "
        f"SELECT 'revisit', id, version, 'cooling_off_expired', 'problem', 'problem', 'bench', :now, {payload}, NULL "
        "FROM revisit_case WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime()))
    message = text(
        "INSERT INTO outbox_message (dedupe_key, channel, template, recipient, context, case_kind, case_id, state, "
        f"attempts, next_try_at, created_at) SELECT 'revisit:' || id || ':late:supervisor', 'internal', 'revisit_late', "
        f"'supervisor:' || branch_code, {payload}, 'revisit', id, 'pending', 0, :now, :now FROM revisit_case "
        "WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime()))
    moved = 0
    with engine.connect() as conn:
        while True:
            with conn.begin():
                ids = list(conn.execute(pick, {"now": NOW, "n": batch}).scalars())
                if not ids:
                    return moved
                params = {"ids": ids, "now": NOW, "t": True}
                moved += conn.execute(update, params).rowcount
                conn.execute(audit, params)
                if outbox:
                    conn.execute(message, params)


def run_sweep(engine: Engine, batch: int, calendar: WorkdayCalendar) -> int:
    settings = get_settings().model_copy(update={"sweep_batch_size": batch})
    with Session(engine, expire_on_commit=False) as session:
        report = sweep.run_sweep(session, ctx=Ctx(now=NOW, actor="bench", settings=settings, calendar=calendar))
    if report.errors:
        raise AssertionError(report.errors)
    return report.counts[("revisit", "cooling_off_expired")]


def count_task_runs(url: str) -> int:
    """Run the flow body once against ``url`` with a counting ``run_task``: the Prefect task runs a sweep starts."""
    import flows.sweep as flow_module
    from core import db as core_db

    calls = 0
    real = flow_module.run_task

    def counting(task: object, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(task, *args, **kwargs)

    flow_module.run_task = counting  # type: ignore[assignment]
    core_db.reset_engine()
    import os

    os.environ["CASEFLOW_DATABASE_URL"] = url
    from core.settings import reset_settings

    reset_settings()
    try:
        flow_module.revisit_sweep_flow.fn(as_of=NOW)
    finally:
        flow_module.run_task = real  # type: ignore[assignment]
        core_db.reset_engine()
    return calls


def measure(backend: str, n_open: int, n_due: int, batch: int, repeat: int, calendar: WorkdayCalendar) -> dict[str, float]:
    with backend_url(backend) as url, project_engine(url) as engine:
        load(engine, n_open, n_due)
        vacuum(engine)
        best = {"raw": float("inf"), "raw+outbox": float("inf"), "sweep": float("inf")}
        phases = [("raw", lambda: run_raw(engine, batch, False)), ("raw+outbox", lambda: run_raw(engine, batch, True)),
                  ("sweep", lambda: run_sweep(engine, batch, calendar))]
        for round_no in range(repeat):
            order = phases if round_no % 2 == 0 else list(reversed(phases))
            for name, fn in order:
                reset(engine)
                seconds, moved = timed(fn)
                if moved != n_due:
                    raise AssertionError(f"{name}: {moved} moved, expected {n_due}")
                check(engine, n_due, outbox=name != "raw")
                best[name] = min(best[name], seconds)
        reset(engine)
        best["task_runs"] = count_task_runs(url)
        return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="open cases in the large database")
    parser.add_argument("--due", type=int, default=10_000, help="due cases in both databases")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    from bench.common import parse_backends

    print_machine(machine_info())
    calendar = WorkdayCalendar.from_chinese_calendar()
    rows = []
    for backend in available_backends(parse_backends(args.backends)):
        results = {}
        for n_open in (args.due, args.open):
            print(f"{backend}: {args.due} due among {n_open} open …", flush=True)
            results[n_open] = measure(backend, n_open, args.due, args.batch, args.repeat, calendar)
        for n_open, r in results.items():
            rows.append([
                backend, f"{n_open:,}", f"{args.due:,}", fmt_seconds(r["raw"]), fmt_seconds(r["raw+outbox"]),
                fmt_seconds(r["sweep"]), fmt_ratio(r["sweep"] / r["raw"]), fmt_ratio(r["sweep"] / r["raw+outbox"]),
                fmt_ratio(r["sweep"] / results[args.due]["sweep"]), fmt_ratio(r["raw"] / results[args.due]["raw"]),
                int(r["task_runs"]),
            ])
    print_table(
        ["backend", "open", "due", "raw s", "raw+outbox s", "sweep s", "sweep/raw", "sweep/raw+outbox",
         "sweep vs small db", "raw vs small db", "task runs"],
        rows,
        title="revisit-sweep: best of rounds",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
