"""Bench of API transitions under concurrent load on PostgreSQL (SPEC §7), against two baselines.

N open work orders are loaded into a throw-away PostgreSQL database, one supervisor per client gets a
token (``core.users.add_user``), and the real app (``api.main.create_app``) is served by uvicorn in a
background thread on a free loopback port, pointed at that database. For each client count C
(``--clients``, default 1,4,16), each scenario is run three ways with C threads:

  api    — ``POST /work-orders/{id}/events/{event}`` over HTTP (one ``httpx.Client`` per thread, keep-alive);
  engine — ``statemachines.engine.apply_event(commit=True)`` directly, one session per thread (no HTTP,
           no auth, no domain service);
  raw    — hand-written SQL per transition: ``UPDATE work_order … WHERE id=… AND version=…`` plus the audit
           ``INSERT``, one commit.

Scenarios:
  distinct  — every client sends ``start`` (expected_version 1) to its own orders (disjoint rows): the N
              orders are split between the C clients; each transition must succeed;
  contended — every client sends the SAME event with the SAME expected_version to the SAME order, released
              together by a barrier, for ``--rounds`` versions in a row (the events cycle start, submit,
              return_to_branch, resume…). Exactly one winner per version must hold (C-1 get 409 / stale),
              and no update may be lost: the order's final version == the number of winners + 1, with one
              audit row per winner.

Every phase starts from the same rows (orders back to open/version 1, audit emptied, VACUUM ANALYZE); a
short warm-up precedes the measurements. Printed per C: requests/s, p50/p95/p99 latency (ms), and the
ratios api/engine and engine/raw (of time per request = 1/throughput, and of p50 latency; > 1 = slower).
Clients and server share this process and its GIL — the figures are an upper bound on the HTTP cost.

    .venv/bin/python bench/api.py [--orders 2000] [--clients 1,4,16] [--rounds 100]
"""

from __future__ import annotations

import argparse
import os
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.common import (  # noqa: E402
    PG_ADMIN_URL,
    available_backends,
    backend_url,
    fmt_ratio,
    machine_info,
    parse_sizes,
    print_machine,
    print_table,
    project_engine,
    vacuum,
)
from core import db as core_db  # noqa: E402
from core.clock import UTC  # noqa: E402
from core.db import UTCDateTime  # noqa: E402
from core.settings import reset_settings  # noqa: E402
from models import AuditEntry, WorkOrder  # noqa: E402
from statemachines.engine import StaleVersion, apply_event  # noqa: E402

KIND = "work_order"
ACTOR = "bench"
T0 = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
PATHS = ("api", "engine", "raw")
SCENARIOS = ("distinct", "contended")

# the contended order walks this cycle: version 1 → start, then submit / return_to_branch / resume for ever
CYCLE = (
    ("submit", {"result": {"done": True}}, "in_progress", "submitted"),
    ("return_to_branch", {"reason": "bench"}, "submitted", "returned"),
    ("resume", {}, "returned", "in_progress"),
)


def event_for(version: int) -> tuple[str, dict[str, object], str, str]:
    """(event, payload, source, target) of the transition that takes the contended order from ``version``."""
    if version == 1:
        return "start", {}, "open", "in_progress"
    return CYCLE[(version - 2) % len(CYCLE)]


# --- data ---------------------------------------------------------------------------------------


def load(engine: Engine, n: int, users: int) -> tuple[list[int], list[str]]:
    """One revisit case, ``n`` open work orders and ``users`` supervisors; returns (order ids, tokens)."""
    from core.users import add_user
    from tests.factories import make_policy, make_revisit

    with Session(engine, expire_on_commit=False) as session:
        policy = make_policy(session)
        case = make_revisit(session, policy=policy, state="verification")
        session.commit()
        case_id, branch = case.id, case.branch_code
        tokens = [
            add_user(session=session, name=f"bench{i}", role="supervisor", branch=branch, now=T0)[1]
            for i in range(users)
        ]
    row = {
        "case_id": case_id, "kind": "verification", "branch_code": branch, "state": "open", "issued_at": T0,
        "due_at": T0 + timedelta(days=10), "second_communication": False, "result": {}, "explanation": None,
        "version": 1, "created_at": T0, "updated_at": T0, "closed_at": None,
    }
    with engine.begin() as conn:
        conn.execute(insert(WorkOrder.__table__), [dict(row) for _ in range(n)])
        ids = list(conn.execute(select(WorkOrder.id).order_by(WorkOrder.id)).scalars())
    return ids, tokens


def reset(engine: Engine) -> None:
    """Every order back to ``open``/version 1, no audit rows, then a steady physical state."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE work_order SET state='open', version=1, updated_at=:t0, result='{}'::json, due_at=:due"
            ).bindparams(bindparam("t0", type_=UTCDateTime()), bindparam("due", type_=UTCDateTime())),
            {"t0": T0, "due": T0 + timedelta(days=10)},
        )
        conn.execute(text("TRUNCATE audit_entry, outbox_message"))
    vacuum(engine, "work_order", "audit_entry")


# --- the server ---------------------------------------------------------------------------------


@contextmanager
def pointed_at(url: str) -> Iterator[None]:
    """The project (settings, engine, calendar) pointed at ``url``; the previous database afterwards."""
    from core import calendar as cal

    before = os.environ.get("CASEFLOW_DATABASE_URL")

    def point(value: str | None) -> None:
        if value is None:
            os.environ.pop("CASEFLOW_DATABASE_URL", None)
        else:
            os.environ["CASEFLOW_DATABASE_URL"] = value
        reset_settings()
        core_db.reset_engine()
        cal.invalidate_calendar()

    point(url)
    try:
        yield
    finally:
        point(before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(url: str) -> Iterator[str]:
    """The real app under uvicorn in a background thread, on ``url``'s database; yields its base URL."""
    import uvicorn

    from api.main import create_app

    with pointed_at(url):
        port = free_port()
        config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=20)


# --- one transition, three ways ----------------------------------------------------------------
# Each returns True when the transition was made, False when another writer had the version (409).


class ApiClient:
    def __init__(self, base_url: str, token: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def __call__(self, order_id: int, version: int, event: str, payload: dict[str, object]) -> bool:
        resp = self.http.post(f"/work-orders/{order_id}/events/{event}", json={"expected_version": version, **payload})
        if resp.status_code == 200:
            return True
        if resp.status_code == 409:
            return False
        raise AssertionError(f"{event} on order {order_id} v{version}: HTTP {resp.status_code} {resp.text[:300]}")

    def close(self) -> None:
        self.http.close()


class EngineClient:
    def __init__(self, engine: Engine) -> None:
        self.session = Session(engine, expire_on_commit=False)

    def __call__(self, order_id: int, version: int, event: str, payload: dict[str, object]) -> bool:
        try:
            apply_event(
                self.session, kind=KIND, case_id=order_id, event=event, actor=ACTOR, now=NOW,
                expected_version=version, payload=payload, commit=True,
            )
            return True
        except StaleVersion:
            return False

    def close(self) -> None:
        self.session.close()


RAW_UPDATE = text(
    "UPDATE work_order SET state=:target, version=version+1, updated_at=:now "
    "WHERE id=:id AND version=:version AND state=:source"
).bindparams(bindparam("now", type_=UTCDateTime()))
RAW_AUDIT = text(
    "INSERT INTO audit_entry (case_kind, case_id, version, event, source, target, actor, at, payload, flow_run_id) "
    "VALUES ('work_order', :id, :version + 1, :event, :source, :target, 'bench', :now, '{}'::json, NULL)"
).bindparams(bindparam("now", type_=UTCDateTime()))


class RawClient:
    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()

    def __call__(self, order_id: int, version: int, event: str, payload: dict[str, object]) -> bool:
        source, target = _states(event, version)
        params = {"id": order_id, "version": version, "event": event, "source": source, "target": target, "now": NOW}
        with self.conn.begin():
            # READ COMMITTED: a second UPDATE of the row waits for the first, then re-checks version → 0 rows
            if self.conn.execute(RAW_UPDATE, params).rowcount != 1:
                return False
            self.conn.execute(RAW_AUDIT, params)
        return True

    def close(self) -> None:
        self.conn.close()


def _states(event: str, version: int) -> tuple[str, str]:
    if event == "start":
        return "open", "in_progress"
    _, _, source, target = event_for(version)
    return source, target


Client = ApiClient | EngineClient | RawClient


# --- one phase ----------------------------------------------------------------------------------


@dataclass
class Phase:
    scenario: str
    clients: int
    path: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    won: int = 0
    lost: int = 0
    winners_per_version: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        """The q-th percentile latency in ms (nearest rank)."""
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
        return ordered[rank - 1] * 1000


def run_threads(make_client: Callable[[int], Client], c: int, body: Callable[[int, Client], None]) -> float:
    """``body(k, client)`` in ``c`` threads released together; the wall seconds from release to the last end."""
    clients = [make_client(k) for k in range(c)]
    start_gate = threading.Barrier(c + 1)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        start_gate.wait()
        try:
            body(k, clients[k])
        except BaseException as exc:  # noqa: BLE001 — reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(c)]
    for t in threads:
        t.start()
    start_gate.wait()
    begin = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - begin
    for client in clients:
        client.close()
    if errors:
        raise errors[0]
    return seconds


def run_distinct(make_client: Callable[[int], Client], c: int, ids: Sequence[int], path: str) -> Phase:
    phase = Phase("distinct", c, path)
    lock = threading.Lock()

    def body(k: int, client: Client) -> None:
        mine: list[float] = []
        won = 0
        for order_id in ids[k::c]:  # disjoint rows per client
            t = time.perf_counter()
            won += client(order_id, 1, "start", {})
            mine.append(time.perf_counter() - t)
        with lock:
            phase.latencies.extend(mine)
            phase.won += won
            phase.lost += len(mine) - won

    phase.seconds = run_threads(make_client, c, body)
    return phase


def run_contended(make_client: Callable[[int], Client], c: int, order_id: int, rounds: int, path: str) -> Phase:
    phase = Phase("contended", c, path)
    lock = threading.Lock()
    round_gate = threading.Barrier(c)
    # every client must agree on the version of a round; the winner's success makes it the next one
    outcome: dict[int, list[bool]] = {}

    def body(k: int, client: Client) -> None:
        for version in range(1, rounds + 1):
            event, payload, _, _ = event_for(version)
            round_gate.wait()  # all clients race on this version together
            t = time.perf_counter()
            ok = client(order_id, version, event, payload)
            elapsed = time.perf_counter() - t
            with lock:
                phase.latencies.append(elapsed)
                outcome.setdefault(version, []).append(ok)
            round_gate.wait()  # the round is over before anyone sends the next version

    phase.seconds = run_threads(make_client, c, body)
    phase.winners_per_version = {v: sum(oks) for v, oks in outcome.items()}
    phase.won = sum(phase.winners_per_version.values())
    phase.lost = phase.requests - phase.won
    return phase


# --- checks -------------------------------------------------------------------------------------


def check_distinct(engine: Engine, phase: Phase, ids: Sequence[int]) -> None:
    """Every client's every transition went through: each order at version 2, one audit row each."""
    if phase.won != len(ids) or phase.lost:
        raise AssertionError(f"{phase.path} distinct C={phase.clients}: {phase.won} ok, {phase.lost} refused")
    with engine.connect() as conn:
        moved = conn.execute(
            select(func.count()).select_from(WorkOrder)
            .where(WorkOrder.state == "in_progress", WorkOrder.version == 2, WorkOrder.id.in_(ids))
        ).scalar_one()
        audits = conn.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "start")).scalar_one()
    if moved != len(ids) or audits != len(ids):
        raise AssertionError(f"{phase.path} distinct: {moved} orders moved and {audits} audit rows, expected {len(ids)}")


def check_contended(engine: Engine, phase: Phase, order_id: int, rounds: int) -> None:
    """Exactly one winner per version, no lost update: final version == winners + 1, one audit row per winner."""
    bad = {v: n for v, n in phase.winners_per_version.items() if n != 1}
    if bad or len(phase.winners_per_version) != rounds:
        raise AssertionError(f"{phase.path} contended C={phase.clients}: winners per version {bad or 'missing'}")
    if phase.requests != rounds * phase.clients or phase.lost != rounds * (phase.clients - 1):
        raise AssertionError(f"{phase.path} contended: {phase.won} won, {phase.lost} lost of {phase.requests}")
    with engine.connect() as conn:
        version = conn.execute(select(WorkOrder.version).where(WorkOrder.id == order_id)).scalar_one()
        audits = list(
            conn.execute(select(AuditEntry.version).where(AuditEntry.case_id == order_id).order_by(AuditEntry.version))
            .scalars()
        )
    if version != phase.won + 1 or audits != list(range(2, phase.won + 2)):
        raise AssertionError(
            f"{phase.path} contended: lost update — final version {version}, {phase.won} winners, audit {audits[:5]}…"
        )


# --- the core -----------------------------------------------------------------------------------


def measure(url: str, *, orders: int, clients: Sequence[int], rounds: int, warmup: int = 20) -> list[Phase]:
    """Every (C, scenario, path) on a fresh database at ``url``; each phase checked. Returns the phases."""
    phases: list[Phase] = []
    with project_engine(url) as engine:
        ids, tokens = load(engine, orders, max(clients))
        print(f"  loaded {orders} open work orders and {len(tokens)} users", flush=True)
        with serving(url) as base_url:
            makers: dict[str, Callable[[int], Client]] = {
                "api": lambda k: ApiClient(base_url, tokens[k]),
                "engine": lambda k: EngineClient(engine),
                "raw": lambda k: RawClient(engine),
            }
            # warm-up: statement caches, psycopg prepared statements, the app's calendar and pools
            for path in PATHS:
                reset(engine)
                run_distinct(makers[path], 2, ids[: min(warmup, len(ids))], path)
                reset(engine)
                run_contended(makers[path], 2, ids[0], min(warmup, 8), path)
            for c in clients:
                for path in PATHS:
                    reset(engine)
                    phase = run_distinct(makers[path], c, ids, path)
                    check_distinct(engine, phase, ids)
                    phases.append(phase)
                    reset(engine)
                    phase = run_contended(makers[path], c, ids[0], rounds, path)
                    check_contended(engine, phase, ids[0], rounds)
                    phases.append(phase)
                    for p in phases[-2:]:
                        print(
                            f"  C={c:<3} {p.scenario:9} {p.path:6}: {p.requests} requests in {p.seconds:.3f}s "
                            f"({p.rps:.0f}/s), {p.won} ok, {p.lost} refused",
                            flush=True,
                        )
    return phases


def report(phases: Sequence[Phase], *, orders: int, rounds: int) -> None:
    by = {(p.scenario, p.clients, p.path): p for p in phases}
    rows = []
    for scenario in SCENARIOS:
        for c in sorted({p.clients for p in phases}):
            for path in PATHS:
                p = by[(scenario, c, path)]
                rows.append(
                    [scenario, c, path, f"{p.rps:,.0f}", f"{p.pct(50):.2f}", f"{p.pct(95):.2f}", f"{p.pct(99):.2f}",
                     p.won, p.lost]
                )
    print_table(
        ["scenario", "C", "path", "req/s", "p50 ms", "p95 ms", "p99 ms", "200 / ok", "409 / stale"],
        rows,
        title=(
            f"PostgreSQL; distinct: `start` on {orders:,} orders split between C clients; contended: C clients race "
            f"on one order for {rounds} versions (one winner each)"
        ),
    )
    ratio_rows = []
    for scenario in SCENARIOS:
        for c in sorted({p.clients for p in phases}):
            api, eng, raw = (by[(scenario, c, path)] for path in PATHS)
            ratio_rows.append(
                [scenario, c, fmt_ratio(eng.rps / api.rps), fmt_ratio(api.pct(50) / eng.pct(50)),
                 fmt_ratio(raw.rps / eng.rps), fmt_ratio(eng.pct(50) / raw.pct(50))]
            )
    print_table(
        ["scenario", "C", "api/engine time per req", "api/engine p50", "engine/raw time per req", "engine/raw p50"],
        ratio_rows,
        title="ratios (> 1 = the first is slower; time per request = 1 / throughput)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="work orders for the distinct scenario (default 2000)")
    parser.add_argument("--clients", type=parse_sizes, default=parse_sizes("1,4,16"), help="client counts (default 1,4,16)")
    parser.add_argument("--rounds", type=int, default=100, help="versions raced in the contended scenario (default 100)")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin URL (CREATE/DROP DATABASE)")
    args = parser.parse_args(argv)

    print_machine(machine_info(args.pg_url))
    if not available_backends(["postgresql"], args.pg_url):
        return 0  # the bench is PostgreSQL only (SQLite serialises every writer): nothing to measure
    print(f"postgresql, N={args.orders}, C={','.join(map(str, args.clients))}, rounds={args.rounds}:", flush=True)
    with backend_url("postgresql", args.pg_url) as url:
        phases = measure(url, orders=args.orders, clients=args.clients, rounds=args.rounds)
    report(phases, orders=args.orders, rounds=args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
