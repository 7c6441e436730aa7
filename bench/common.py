"""Helpers shared by the benches (engine, intake, sweep): databases to run on, timing, tables, the machine.

Run a bench as a script from the project root (``.venv/bin/python bench/engine.py``) or as a module
(``.venv/bin/python -m bench.engine``); either way the project root is put on ``sys.path`` first.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from core import db as core_db  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CASEFLOW_BENCH_PG_URL",
    os.environ.get("CASEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
BACKENDS = ("sqlite", "postgresql")

T = TypeVar("T")


# --- arguments ----------------------------------------------------------------------------------


def parse_sizes(value: str) -> list[int]:
    """``"10000,100_000"`` → ``[10000, 100000]``."""
    try:
        sizes = [int(part.strip().replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers separated by commas, not {value!r}") from None
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("give at least one positive size")
    return sizes


def parse_backends(value: str) -> list[str]:
    """``"sqlite,postgresql"`` (``pg``/``postgres`` accepted) → the backends, in the order given."""
    aliases = {"pg": "postgresql", "postgres": "postgresql", "sqlite3": "sqlite"}
    names = [aliases.get(p.strip().lower(), p.strip().lower()) for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"backends are {', '.join(BACKENDS)}; got {value!r}")
    return list(dict.fromkeys(names))


def add_common_args(parser: argparse.ArgumentParser, *, default_sizes: str) -> None:
    parser.add_argument(
        "--sizes", type=parse_sizes, default=parse_sizes(default_sizes), help=f"row counts (default {default_sizes})"
    )
    parser.add_argument(
        "--backends",
        type=parse_backends,
        default=list(BACKENDS),
        help="sqlite,postgresql (default both; PostgreSQL is skipped when unreachable)",
    )
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin URL (CREATE/DROP DATABASE)")


# --- databases ----------------------------------------------------------------------------------


@contextmanager
def temp_sqlite_url(name: str = "caseflow.db") -> Iterator[str]:
    """A SQLite file in a fresh temporary directory, removed afterwards (WAL and SHM files too)."""
    folder = Path(tempfile.mkdtemp(prefix="caseflow_bench_"))
    try:
        yield f"sqlite:///{folder / name}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _with_connect_timeout(url: str, seconds: int = 3) -> str:
    if "connect_timeout=" in url:
        return url
    return url + ("&" if "?" in url else "?") + f"connect_timeout={seconds}"


def pg_reachable(admin_url: str = PG_ADMIN_URL) -> tuple[bool, str]:
    """(reachable, server version or the error) — never raises."""
    try:
        eng = core_db.make_engine(_with_connect_timeout(admin_url))
        try:
            with eng.connect() as conn:
                version = conn.execute(text("show server_version")).scalar_one()
        finally:
            eng.dispose()
        return True, str(version)
    except Exception as exc:  # noqa: BLE001 — any failure means "skip PostgreSQL"
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@contextmanager
def temp_pg_url(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A throw-away database ``caseflow_bench_<random>`` on the server, dropped (FORCE) afterwards."""
    name = f"caseflow_bench_{uuid.uuid4().hex[:10]}"
    admin = core_db.make_engine(_with_connect_timeout(admin_url)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base, _, query = admin_url.partition("?")
        url = base.rsplit("/", 1)[0] + "/" + name + (("?" + query) if query else "")
        try:
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def backend_url(backend: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A fresh, empty database of ``backend``; removed when the block ends."""
    if backend == "sqlite":
        with temp_sqlite_url() as url:
            yield url
    elif backend == "postgresql":
        with temp_pg_url(admin_url) as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")


def available_backends(wanted: Sequence[str], admin_url: str = PG_ADMIN_URL) -> list[str]:
    """The wanted backends that can run; prints why PostgreSQL is skipped when it is."""
    ready: list[str] = []
    for backend in wanted:
        if backend == "postgresql":
            ok, info = pg_reachable(admin_url)
            if not ok:
                print(f"PostgreSQL skipped: not reachable at {admin_url} ({info})", flush=True)
                continue
        ready.append(backend)
    return ready


@contextmanager
def project_engine(url: str, *, create_schema: bool = True) -> Iterator[Engine]:
    """The project's own engine (``core.db.make_engine``: SQLite pragmas, BEGIN IMMEDIATE) with every table."""
    import models  # noqa: F401  (registers every table)
    from sqlmodel import SQLModel

    engine = core_db.make_engine(url)
    try:
        if create_schema:
            SQLModel.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()


def vacuum(engine: Engine, *tables: str) -> None:
    """Leave the database in a steady physical state between measured phases.

    PostgreSQL: ``VACUUM ANALYZE`` (dead row versions from the previous phase would otherwise slow the
    next one). SQLite: checkpoint and truncate the WAL, then ``ANALYZE``.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {', '.join(tables)}" if tables else "VACUUM ANALYZE"))
    else:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("ANALYZE")
            cur.close()
        finally:
            raw.close()


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- timing -------------------------------------------------------------------------------------


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds by ``time.perf_counter``, result); collects garbage first so earlier phases don't bill this one."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    seconds: float = 0.0
    _start: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


# --- output -------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    """A pipe table, aligned for the terminal and valid Markdown (paste it into RESULTS.md as is).

    ``align`` gives one letter per column, ``l`` or ``r``; default: left for the first column(s) holding
    text, right for numbers.
    """
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = "".join(
            "r" if rows and all(_numeric(row[i]) for row in rows if row[i] not in (None, "", "–")) else "l"
            for i in range(len(headers))
        )

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(values, widths, align, strict=True)]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, align))
    return "\n".join([line(cells[0]), rule + "|"] + [line(r) for r in cells[1:]])


def _numeric(value: Any) -> bool:
    if isinstance(value, (int, float)):
        return True
    text_value = str(value).replace(",", "").replace("_", "").rstrip("×x%s").lstrip("~≈")
    try:
        float(text_value)
        return True
    except ValueError:
        return False


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    if title:
        print(f"\n{title}")
    print(format_table(headers, rows), flush=True)


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


# --- the machine --------------------------------------------------------------------------------


def _run(cmd: Sequence[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return "?"


def machine_info(pg_admin_url: str | None = PG_ADMIN_URL) -> dict[str, str]:
    """What a result is only meaningful with: cores, memory, Python, SQLAlchemy, databases, date."""
    import sqlalchemy

    mem = _run(["free", "-h"]).splitlines()
    mem_line = next((ln for ln in mem if ln.lower().startswith("mem:")), "?")
    info = {
        "date": _run(["date", "--iso-8601=seconds"]) or datetime.now().isoformat(timespec="seconds"),
        "host": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": _cpu_model(),
        "nproc": _run(["nproc"]) or str(os.cpu_count()),
        "memory": " ".join(mem_line.split()[:2]).replace("Mem: ", "total ") if mem_line != "?" else "?",
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    if pg_admin_url:
        ok, version = pg_reachable(pg_admin_url)
        info["postgresql"] = version if ok else f"not reachable ({version})"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def print_machine(info: dict[str, str]) -> None:
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
