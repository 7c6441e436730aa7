"""Test databases: a fresh SQLite file per test; PostgreSQL (real server) for tests marked ``postgres``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (registers every table)
from core import db as core_db
from core.migrate import stamp
from core.settings import reset_settings

PG_ADMIN_URL = os.environ.get("CASEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _point_at(url: str, tmp: Path) -> None:
    os.environ["CASEFLOW_DATABASE_URL"] = url
    os.environ["CASEFLOW_DROP_FOLDER"] = str(tmp / "inbox")
    os.environ["CASEFLOW_OUTBOX_FOLDER"] = str(tmp / "outbox")
    os.environ["CASEFLOW_REPORTS_FOLDER"] = str(tmp / "reports")
    reset_settings()
    core_db.reset_engine()
    from core import calendar as cal

    cal.invalidate_calendar()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file database with every table, used as the project's database."""
    _point_at(f"sqlite:///{tmp_path / 'caseflow.db'}", tmp_path)
    eng = core_db.get_engine()
    SQLModel.metadata.create_all(eng)
    stamp()  # the schema is the models' own: `caseflow db upgrade` finds nothing to do
    yield eng
    core_db.reset_engine()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


def _pg_available() -> bool:
    try:
        eng = core_db.make_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away database on the real PostgreSQL server, dropped at the end of the session."""
    if not _pg_available():
        pytest.skip("no PostgreSQL server reachable at " + PG_ADMIN_URL)
    name = f"caseflow_test_{uuid.uuid4().hex[:8]}"
    admin = core_db.make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    eng = core_db.make_engine(url)
    SQLModel.metadata.create_all(eng)
    eng.dispose()
    stamp(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str, tmp_path: Path) -> Iterator[Engine]:
    """The PostgreSQL test database, emptied before each test, used as the project's database."""
    _point_at(pg_url, tmp_path)
    eng = core_db.get_engine()
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)  # alembic_version stays
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    core_db.reset_engine()


@pytest.fixture
def pg_session(pg_engine: Engine) -> Iterator[Session]:
    with Session(pg_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def prefect_harness():  # type: ignore[no-untyped-def]
    """One Prefect test server for the whole session (~10 s to start): every flow test marked ``prefect`` shares it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def read_artifact_keys() -> list[str]:
    """Artifact keys on the harness server (this client version's read_artifacts sends nulls the server refuses)."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def keys() -> list[str]:
        async with get_client() as client:
            resp = await client._client.post("/artifacts/filter", json={"limit": 200, "offset": 0})
            resp.raise_for_status()
            return [a["key"] for a in resp.json() if a.get("key")]

    return asyncio.run(keys())
