"""Bench of intake (SPEC §7 "intake of 100 000 policies in one run") against raw SQL on the same rows.

For each backend (SQLite file, PostgreSQL when reachable) and each N, in one run:

(a) import — ``domain.policies.import_policies`` of N records in the §4.1 shape (what ``POST /policies``
    and the drop folder call), in batches of ``--import-batch`` records (one transaction each);
(b) intake — ``domain.intake.intake_new_contracts`` over everything imported: scope, due date,
    cooling-off, the §2.9 checks, one case + one ``created`` audit row per policy in scope, and the
    flagged few sent through the engine (verification / letter, their work orders and messages);
(c) raw   — the rows (a) and (b) left behind, captured, deleted, then written again with a plain
    ``executemany`` INSERT per table in chunks of 1000 rows, one commit per chunk: policies and their
    audit rows (the baseline of (a)); cases, their audit rows, work orders and outbox rows (of (b)).

The ratios are import/raw-policies, intake/raw-cases and (import+intake)/(both raw). The raw path does
no validation, no look-up and no rule: it is the floor of what writing those rows costs here.

The data: agents spread over 20 branches; about 5 % of the policies out of scope (one-year term or the
accident line), 5 % without a receipt yet, 15 % bancassurance; 0.5 % with an invalid phone, 0.3 % on
a phone shared by three policyholders, 0.1 % special revisits — so that the engine path of the
flagged cases is in the figure, in a realistic proportion.

    .venv/bin/python bench/intake.py [--sizes 100000] [--backends sqlite,postgresql] [--repeat 1]
    .venv/bin/python bench/intake.py --sizes 20000 --backends sqlite --profile   # cProfile of intake
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
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
from core.calendar import WorkdayCalendar  # noqa: E402
from core.clock import UTC  # noqa: E402
from core.settings import get_settings  # noqa: E402
from domain.intake import intake_new_contracts  # noqa: E402
from domain.policies import import_policies  # noqa: E402
from domain.revisits import Ctx  # noqa: E402
from models import AuditEntry, OutboxMessage, Policy, RevisitCase, WorkOrder  # noqa: E402

ACTOR = "bench"
IMPORTED_AT = datetime(2026, 9, 28, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 9, 28, 22, 0, tzinfo=UTC)  # Tue 2026-09-29 06:00 Asia/Shanghai, the daily intake
RAW_CHUNK = 1000
BRANCHES = [f"B{b:02d}" for b in range(20)]
AGENTS = 500

# the tables a round writes, in the order they are written (and deleted in reverse)
POLICY_TABLES = ("policy",)
CASE_TABLES = ("revisit_case", "work_order", "outbox_message")


# --- data ---------------------------------------------------------------------------------------


def records(n: int) -> tuple[list[dict[str, Any]], int]:
    """N policy records in the §4.1 shape, deterministic; and how many are in scope."""
    out: list[dict[str, Any]] = []
    in_scope = 0
    shared_phone = None
    for i in range(n):
        line, term = "life", 20
        if i % 40 == 7:
            term = 1  # one-year term life: out of scope
        elif i % 40 == 23:
            line = "accident"
        else:
            in_scope += 1
        phone = f"138{i:08d}"
        if i % 200 == 11:
            phone = f"138{i:07d}"  # ten digits: invalid (§2.9)
        elif i % 1000 in (101, 102, 103):
            if i % 1000 == 101:
                shared_phone = f"137{i:08d}"
            phone = shared_phone  # three policyholders on one phone (§2.9)
        no_receipt = i % 20 == 13
        agent = i % AGENTS
        out.append(
            {
                "policy_no": f"B{i:09d}",
                "product_code": "END-20",
                "product_type": ("participating", "traditional", "universal", "investment_linked")[i % 4],
                "line": line,
                "term_years": term,
                "channel": "bancassurance" if i % 20 in (1, 5, 9) else ("telesales" if i % 20 == 2 else "agency"),
                "premium": "6000.00",
                "payment_mode": "annual" if i % 3 else "single",
                "payment_years": 10,
                "cooling_off_days": 15,
                "issue_date": "2026-09-10",
                "print_date": "2026-09-10",
                "receipt_signed_date": None if no_receipt else ("2026-09-16" if i % 2 else "2026-09-25"),
                "receipt_entered_date": None if no_receipt else ("2026-09-17" if i % 2 else "2026-09-26"),
                "special_revisit": i % 1000 == 555,
                "policyholder": {
                    "name": f"客户{i}",
                    "gender": "F" if i % 2 else "M",
                    "birth_date": "1980-03-02",
                    "id_number": f"310101{i:012d}",
                    "phone": phone,
                    "address": "上海市浦东新区",
                },
                "insured": None,
                "agent": {
                    "code": f"A{agent:04d}",
                    "name": f"业务员{agent}",
                    "phone": f"139{agent:08d}",
                    "branch": BRANCHES[agent % len(BRANCHES)],
                    "supervisor_code": "S01",
                    "manager_code": "M01",
                    "active": True,
                },
            }
        )
    return out, in_scope


# --- the project's path -------------------------------------------------------------------------


def run_import(engine: Engine, recs: Sequence[dict[str, Any]], batch: int) -> int:
    created = 0
    with Session(engine, expire_on_commit=False) as session:
        for part in chunks(recs, batch):
            result = import_policies(session=session, records=list(part), actor=ACTOR, now=IMPORTED_AT)
            if result.rejected:
                raise AssertionError(f"rejected: {result.rejected[:3]}")
            created += result.created
    return created


CALENDAR = WorkdayCalendar.from_chinese_calendar()


def run_intake(engine: Engine) -> dict[str, Any]:
    ctx = Ctx(now=NOW, actor=ACTOR, settings=get_settings(), calendar=CALENDAR)
    with Session(engine, expire_on_commit=False) as session:
        return intake_new_contracts(session, ctx=ctx).as_dict()


# --- the raw baseline ---------------------------------------------------------------------------


def capture(engine: Engine, table: str, where: Any = None) -> list[dict[str, Any]]:
    """Every row of a table (Python values, through the column types), in id order."""
    from sqlmodel import SQLModel

    t = SQLModel.metadata.tables[table]
    stmt = select(t).order_by(t.c.id)
    if where is not None:
        stmt = stmt.where(where(t))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def delete_all(engine: Engine) -> None:
    """Everything a round wrote (agents and branches stay: both paths find them on file)."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table in ("audit_entry", "outbox_message", "call_attempt", "work_order", "revisit_case", "policy"):
            conn.execute(text(f"TRUNCATE {table} CASCADE" if pg else f"DELETE FROM {table}"))
    vacuum(engine)


def raw_insert(engine: Engine, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """executemany INSERT of ``rows`` in chunks of RAW_CHUNK, one commit per chunk."""
    from sqlmodel import SQLModel

    t = SQLModel.metadata.tables[table]
    with engine.connect() as conn:
        for part in chunks(rows, RAW_CHUNK):
            with conn.begin():
                conn.execute(insert(t), list(part))


@dataclass
class Snapshot:
    policies: list[dict[str, Any]]
    policy_audit: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    case_audit: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    outbox: list[dict[str, Any]]

    def counts(self) -> tuple[int, ...]:
        return tuple(len(x) for x in (self.policies, self.policy_audit, self.cases, self.case_audit, self.orders,
                                      self.outbox))


def snapshot(engine: Engine) -> Snapshot:
    return Snapshot(
        policies=capture(engine, "policy"),
        policy_audit=capture(engine, "audit_entry", lambda t: t.c.case_kind == "policy"),
        cases=capture(engine, "revisit_case"),
        case_audit=capture(engine, "audit_entry", lambda t: t.c.case_kind != "policy"),
        orders=capture(engine, "work_order"),
        outbox=capture(engine, "outbox_message"),
    )


def run_raw_policies(engine: Engine, snap: Snapshot) -> None:
    raw_insert(engine, "policy", snap.policies)
    raw_insert(engine, "audit_entry", [{k: v for k, v in r.items() if k != "id"} for r in snap.policy_audit])


def run_raw_cases(engine: Engine, snap: Snapshot) -> None:
    raw_insert(engine, "revisit_case", snap.cases)
    raw_insert(engine, "work_order", snap.orders)
    raw_insert(engine, "outbox_message", snap.outbox)
    raw_insert(engine, "audit_entry", [{k: v for k, v in r.items() if k != "id"} for r in snap.case_audit])


def counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        def n(model: Any, *where: Any) -> int:
            return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

        return (
            n(Policy), n(AuditEntry, AuditEntry.case_kind == "policy"), n(RevisitCase),
            n(AuditEntry, AuditEntry.case_kind != "policy"), n(WorkOrder), n(OutboxMessage),
        )


# --- one (backend, N) ---------------------------------------------------------------------------


@dataclass
class Measurement:
    backend: str
    n: int
    in_scope: int
    imports: list[float] = field(default_factory=list)
    intakes: list[float] = field(default_factory=list)
    raw_policies: list[float] = field(default_factory=list)
    raw_cases: list[float] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def best(self, name: str) -> float:
        return min(getattr(self, name))


def measure(engine: Engine, backend: str, n: int, *, import_batch: int, repeat: int) -> Measurement:
    recs, in_scope = records(n)
    m = Measurement(backend, n, in_scope)
    # warm: a small slice through every path (statement caches, the calendar, imports of modules)
    warm = recs[:500]
    run_import(engine, warm, import_batch)
    run_intake(engine)
    warm_snap = snapshot(engine)
    delete_all(engine)
    run_raw_policies(engine, warm_snap)
    run_raw_cases(engine, warm_snap)
    delete_all(engine)

    for round_no in range(repeat):
        seconds, created = timed(lambda: run_import(engine, recs, import_batch))
        if created != n:
            raise AssertionError(f"imported {created} of {n}")
        m.imports.append(seconds)
        vacuum(engine)
        seconds, m.result = timed(lambda: run_intake(engine))
        if m.result["created"] != in_scope:
            raise AssertionError(f"intake created {m.result['created']} cases, expected {in_scope}")
        m.intakes.append(seconds)
        snap = snapshot(engine)
        print(f"  round {round_no + 1}: import {m.imports[-1]:.2f}s, intake {m.intakes[-1]:.2f}s "
              f"({m.result}); rows {snap.counts()}", flush=True)
        delete_all(engine)
        seconds, _ = timed(lambda: run_raw_policies(engine, snap))
        m.raw_policies.append(seconds)
        seconds, _ = timed(lambda: run_raw_cases(engine, snap))
        m.raw_cases.append(seconds)
        if counts(engine) != snap.counts():
            raise AssertionError(f"raw wrote {counts(engine)}, the project {snap.counts()}")
        print(f"  round {round_no + 1}: raw policies {m.raw_policies[-1]:.2f}s, raw cases {m.raw_cases[-1]:.2f}s",
              flush=True)
        delete_all(engine)
    return m


def profile_intake(engine: Engine, n: int, import_batch: int, top: int = 35) -> None:
    recs, _ = records(n)
    run_import(engine, recs, import_batch)
    vacuum(engine)
    prof = cProfile.Profile()
    prof.enable()
    run_intake(engine)
    prof.disable()
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n--- cProfile of intake, {engine.dialect.name}, N={n} (top {top} by {key}) ---")
        print(out.getvalue())


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, default_sizes="100000")
    parser.add_argument("--import-batch", type=int, default=10_000, help="records per import call (default 10000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, best kept (default 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile intake instead of the table")
    args = parser.parse_args(argv)

    info = machine_info(args.pg_url if "postgresql" in args.backends else None)
    print_machine(info)
    backends = available_backends(args.backends, args.pg_url)

    results: list[Measurement] = []
    for backend in backends:
        for n in args.sizes:
            print(f"{backend}, N={n}:", flush=True)
            with backend_url(backend, args.pg_url) as url, project_engine(url) as engine:
                if args.profile:
                    profile_intake(engine, n, args.import_batch)
                    continue
                results.append(measure(engine, backend, n, import_batch=args.import_batch, repeat=args.repeat))
    if args.profile:
        return 0

    headers = ["backend", "N", "cases", "import s", "raw policies s", "import/raw", "intake s", "raw cases s",
               "intake/raw", "both/raw"]
    rows = []
    for m in results:
        imp, itk, rp, rc = (m.best(x) for x in ("imports", "intakes", "raw_policies", "raw_cases"))
        rows.append([m.backend, f"{m.n:,}", f"{m.in_scope:,}", fmt_seconds(imp), fmt_seconds(rp), fmt_ratio(imp / rp),
                     fmt_seconds(itk), fmt_seconds(rc), fmt_ratio(itk / rc), fmt_ratio((imp + itk) / (rp + rc))])
    print_table(headers, rows, title=(
        f"import of N policies (batches of {args.import_batch}) and intake of them, against executemany INSERTs of "
        f"the same rows (chunks of {RAW_CHUNK}, commit per chunk); best of {args.repeat}"
    ))
    worst = max((m.best("intakes") / m.best("raw_cases") for m in results), default=0.0)
    if results:
        print(f"target intake ≤ 3× raw: {'met' if worst <= 3 else 'NOT met'} (worst {worst:.2f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
