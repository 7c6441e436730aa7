"""Bench of the transition engine: the bulk path against raw SQL, and the per-case path for scale.

For each backend (SQLite file, PostgreSQL when reachable) and each N, N work orders are loaded in
state ``open`` and ``mark_overdue`` (a timed event) is applied to all of them three ways:

(a) raw   — hand-written SQL per batch of ``--batch`` ids: ``UPDATE work_order … WHERE id IN (…) AND
            state='open'`` plus ``INSERT INTO audit_entry … SELECT … FROM work_order WHERE id IN (…)``,
            one transaction (commit) per batch;
(b) bulk  — ``statemachines.engine.apply_bulk`` per batch of the same ids, commit per batch;
(c) per-row — ``statemachines.engine.apply_event(commit=True)`` per case, on a sample of
            ``--sample`` cases only; the N-row total is extrapolated (labelled so).

Fairness: the same rows and batches for (a) and (b); before every measured phase the rows are reset
to ``open``/version 1, the audit table emptied and the database vacuumed (PostgreSQL) or its WAL
checkpointed (SQLite); statement caches are warmed on a throw-away slice first; raw and bulk
alternate (AB BA AB…) over ``--repeat`` rounds and the best round of each is reported.

    .venv/bin/python bench/engine.py [--sizes 10000,100000] [--backends sqlite,postgresql]
    .venv/bin/python bench/engine.py --sizes 100000 --backends postgresql --profile   # cProfile of (a) and (b)
    PYTHONPATH=/some/dir .venv/bin/python bench/engine.py --bulk-fn candidate:apply_bulk  # bench a candidate
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import pstats
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.common import (  # noqa: E402
    add_common_args,
    available_backends,
    backend_url,
    chunks,
    fmt_ratio,
    fmt_seconds,
    machine_info,
    print_machine,
    print_table,
    project_engine,
    timed,
    vacuum,
)
from core.clock import UTC  # noqa: E402
from core.db import UTCDateTime  # noqa: E402
from models import AuditEntry, WorkOrder  # noqa: E402
from statemachines.engine import apply_bulk, apply_event  # noqa: E402

KIND = "work_order"
EVENT = "mark_overdue"
ACTOR = "bench"
T0 = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
LOAD_CHUNK = 10_000


# --- data ---------------------------------------------------------------------------------------


def load(engine: Engine, n: int) -> list[int]:
    """One policy, one revisit case and ``n`` open work orders; returns the orders' ids in order."""
    from tests.factories import make_policy, make_revisit

    with Session(engine, expire_on_commit=False) as session:
        policy = make_policy(session)
        case = make_revisit(session, policy=policy, state="verification")
        session.commit()
        case_id, branch = case.id, case.branch_code
    due = T0 + timedelta(days=10)
    table = WorkOrder.__table__
    with engine.begin() as conn:
        for start in range(0, n, LOAD_CHUNK):
            rows = [
                {
                    "case_id": case_id,
                    "kind": "verification",
                    "branch_code": branch,
                    "state": "open",
                    "issued_at": T0,
                    "due_at": due,
                    "second_communication": False,
                    "result": {},
                    "explanation": None,
                    "version": 1,
                    "created_at": T0,
                    "updated_at": T0,
                    "closed_at": None,
                }
                for _ in range(start, min(n, start + LOAD_CHUNK))
            ]
            conn.execute(insert(table), rows)
    with engine.connect() as conn:
        ids = list(conn.execute(select(table.c.id).order_by(table.c.id)).scalars())
    assert len(ids) == n, (len(ids), n)
    return ids


def reset(engine: Engine) -> None:
    """Every order back to ``open``/version 1, no audit rows, then a steady physical state."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE work_order SET state='open', version=1, updated_at=:t0").bindparams(
                bindparam("t0", type_=UTCDateTime())
            ),
            {"t0": T0},
        )
        conn.execute(text("TRUNCATE audit_entry" if pg else "DELETE FROM audit_entry"))
    vacuum(engine, "work_order", "audit_entry")


def check(engine: Engine, expected: int) -> None:
    """The phase moved exactly ``expected`` orders to overdue, at version 2, with one audit row each."""
    with engine.connect() as conn:
        moved = conn.execute(
            select(func.count()).select_from(WorkOrder).where(WorkOrder.state == "overdue", WorkOrder.version == 2)
        ).scalar_one()
        audits = conn.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.event == EVENT, AuditEntry.version == 2)
        ).scalar_one()
    if moved != expected or audits != expected:
        raise AssertionError(f"expected {expected} transitions, found {moved} overdue orders and {audits} audit rows")


# --- the three paths ----------------------------------------------------------------------------


def raw_statements(dialect: str) -> tuple[object, object]:
    payload = "'{}'::json" if dialect == "postgresql" else "'{}'"
    update = text(
        "UPDATE work_order SET state='overdue', version=version+1, updated_at=:now "
        "WHERE id IN :ids AND state='open'"
    ).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime()))
    audit = text(
        "INSERT INTO audit_entry (case_kind, case_id, version, event, source, target, actor, at, payload, flow_run_id) "
        f"SELECT 'work_order', id, version, 'mark_overdue', 'open', 'overdue', 'bench', :now, {payload}, NULL "
        "FROM work_order WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime()))
    return update, audit


def run_raw(engine: Engine, ids: Sequence[int], batch: int) -> int:
    update, audit = raw_statements(engine.dialect.name)
    moved = 0
    with engine.connect() as conn:
        for part in chunks(ids, batch):
            with conn.begin():
                params = {"ids": list(part), "now": NOW}
                moved += conn.execute(update, params).rowcount
                conn.execute(audit, params)
    return moved


BULK_FN: Callable[..., Sequence[object]] = apply_bulk  # --bulk-fn swaps in a candidate implementation


def load_function(dotted: str) -> Callable[..., Sequence[object]]:
    """``package.module:function`` → the function (to bench a candidate ``apply_bulk`` against raw)."""
    module_name, _, name = dotted.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"give module:function, not {dotted!r}")
    return getattr(importlib.import_module(module_name), name)


def run_bulk(engine: Engine, ids: Sequence[int], batch: int) -> int:
    moved = 0
    with Session(engine, expire_on_commit=False) as session:
        for part in chunks(ids, batch):
            done = BULK_FN(session, kind=KIND, event=EVENT, case_ids=part, actor=ACTOR, now=NOW)
            session.commit()
            moved += len(done)
    return moved


def run_per_row(engine: Engine, ids: Sequence[int]) -> int:
    with Session(engine, expire_on_commit=False) as session:
        for case_id in ids:
            apply_event(session, kind=KIND, case_id=case_id, event=EVENT, actor=ACTOR, now=NOW, commit=True)
    return len(ids)


# --- one (backend, N) ---------------------------------------------------------------------------


@dataclass
class Measurement:
    backend: str
    n: int
    batch: int
    raw: list[float] = field(default_factory=list)
    bulk: list[float] = field(default_factory=list)
    sample: int = 0
    sample_seconds: float = 0.0
    load_seconds: float = 0.0

    @property
    def raw_best(self) -> float:
        return min(self.raw)

    @property
    def bulk_best(self) -> float:
        return min(self.bulk)

    @property
    def per_row_ms(self) -> float:
        return self.sample_seconds / self.sample * 1000

    @property
    def per_row_total(self) -> float:
        return self.sample_seconds / self.sample * self.n


def measure(engine: Engine, backend: str, n: int, *, batch: int, sample: int, repeat: int) -> Measurement:
    m = Measurement(backend, n, batch)
    m.load_seconds, ids = timed(lambda: load(engine, n))
    print(f"  loaded {n} open work orders in {m.load_seconds:.2f}s", flush=True)

    # warm statement caches (SQLAlchemy compiled cache, psycopg prepared statements) on a throw-away slice
    warm = ids[: min(len(ids), 2 * batch)]
    reset(engine)
    run_raw(engine, warm, batch)
    reset(engine)
    run_bulk(engine, warm, batch)
    reset(engine)
    run_per_row(engine, warm[:20])

    for round_no in range(repeat):
        order = ("raw", "bulk") if round_no % 2 == 0 else ("bulk", "raw")
        for path in order:
            reset(engine)
            fn = run_raw if path == "raw" else run_bulk
            seconds, moved = timed(lambda fn=fn: fn(engine, ids, batch))
            if moved != n:
                raise AssertionError(f"{path} moved {moved} of {n}")
            check(engine, n)
            (m.raw if path == "raw" else m.bulk).append(seconds)
            print(f"  round {round_no + 1} {path:4}: {seconds:.3f}s", flush=True)

    # per-row path on an evenly spread sample
    m.sample = min(sample, n)
    step = max(1, n // m.sample)
    picked = ids[::step][: m.sample]
    reset(engine)
    m.sample_seconds, _ = timed(lambda: run_per_row(engine, picked))
    check(engine, m.sample)
    print(f"  per-row: {m.sample} cases in {m.sample_seconds:.3f}s ({m.per_row_ms:.3f} ms/case)", flush=True)
    return m


def profile_bulk(engine: Engine, n: int, batch: int, top: int = 30) -> None:
    """cProfile of one bulk pass (not timed for the table): where the Python time goes."""
    ids = load(engine, n)
    reset(engine)
    run_bulk(engine, ids[: 2 * batch], batch)  # warm
    for label, fn in (("raw", run_raw), ("bulk", run_bulk)):
        reset(engine)
        prof = cProfile.Profile()
        prof.enable()
        fn(engine, ids, batch)
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        print(f"\n--- cProfile of the {label} path, {engine.dialect.name}, N={n} (top {top} by own time) ---")
        stats.sort_stats("tottime").print_stats(top)
        print(out.getvalue())
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(top)
        print(f"--- {label}: top {top} by cumulative time ---")
        print(out.getvalue())


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, default_sizes="10000,100000")
    parser.add_argument("--batch", type=int, default=1000, help="ids per statement / per commit (default 1000)")
    parser.add_argument("--sample", type=int, default=2000, help="cases for the per-row path (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of raw+bulk, best kept (default 3)")
    parser.add_argument(
        "--bulk-fn",
        type=load_function,
        default=None,
        help="module:function with apply_bulk's signature to bench instead (default statemachines.engine:apply_bulk)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile raw and bulk instead of the table")
    args = parser.parse_args(argv)
    global BULK_FN
    if args.bulk_fn is not None:
        BULK_FN = args.bulk_fn
        print(f"bulk path: {BULK_FN.__module__}.{BULK_FN.__qualname__} (candidate, not the project's apply_bulk)")

    info = machine_info(args.pg_url if "postgresql" in args.backends else None)
    print_machine(info)
    backends = available_backends(args.backends, args.pg_url)

    results: list[Measurement] = []
    for backend in backends:
        for n in args.sizes:
            print(f"{backend}, N={n}:", flush=True)
            with backend_url(backend, args.pg_url) as url, project_engine(url) as engine:
                if args.profile:
                    profile_bulk(engine, n, args.batch)
                    continue
                results.append(
                    measure(engine, backend, n, batch=args.batch, sample=args.sample, repeat=args.repeat)
                )
    if args.profile:
        return 0

    headers = [
        "backend",
        "N",
        "raw s",
        "bulk s",
        "bulk/raw",
        "per-row ms/case",
        "per-row s (extrapolated)",
        "per-row/raw",
    ]
    rows = [
        [
            m.backend,
            f"{m.n:,}",
            fmt_seconds(m.raw_best),
            fmt_seconds(m.bulk_best),
            fmt_ratio(m.bulk_best / m.raw_best),
            f"{m.per_row_ms:.3f}",
            f"~{fmt_seconds(m.per_row_total)}",
            fmt_ratio(m.per_row_total / m.raw_best),
        ]
        for m in results
    ]
    print_table(
        headers,
        rows,
        title=(
            f"mark_overdue on N open work orders; batch {args.batch} ids per statement and per commit; "
            f"raw and bulk best of {args.repeat}; per-row measured on {args.sample} cases and extrapolated to N"
        ),
    )
    worst = max((m.bulk_best / m.raw_best for m in results), default=0.0)
    if results:
        print(f"target bulk ≤ 3× raw: {'met' if worst <= 3 else 'NOT met'} (worst {worst:.2f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
