"""Alembic builds the whole schema on SQLite and PostgreSQL, and the migrations match the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, String, inspect, text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from core import migrate
from core.db import make_engine
from core.make_migration import make_migration, server_default_for
from core.settings import reset_settings

PG_ADMIN_URL = os.environ.get("CASEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _head() -> str:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()  # type: ignore[return-value]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _assert_migrated(url: str) -> None:
    assert migrate.current(url) == _head()
    assert set(SQLModel.metadata.tables) <= _tables(url)
    # a difference here means a model changed without a migration: run python -m core.make_migration "..."
    assert migrate.check(url) == []


def test_head_is_a_single_numbered_revision() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert all(rev.revision.isdigit() and len(rev.revision) == 4 for rev in script.walk_revisions())
    assert script.get_base() == "0001"


def test_upgrade_fresh_sqlite_file_in_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'caseflow.db'}"
    assert migrate.current(f"sqlite:///{tmp_path / 'other.db'}") is None
    migrate.upgrade(url)
    _assert_migrated(url)


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO branch (code, name) VALUES ('B1', 'kept')"))
    engine.dispose()
    migrate.upgrade(url)
    _assert_migrated(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM branch")).scalars().all() == ["kept"]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # migrations switch them off, not for good
    engine.dispose()


def test_upgrade_without_url_uses_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", url)
    reset_settings()
    try:
        migrate.upgrade()
        assert migrate.current() == _head()
    finally:
        monkeypatch.undo()
        reset_settings()
    assert migrate.current(url) == _head()


def test_make_migration_writes_nothing_when_in_sync() -> None:
    before = sorted(migrate.MIGRATIONS_DIR.joinpath("versions").glob("*.py"))
    assert make_migration("nothing changed") is None
    assert sorted(migrate.MIGRATIONS_DIR.joinpath("versions").glob("*.py")) == before


def test_new_not_null_column_gets_server_default_from_model_default() -> None:
    flag = server_default_for(Column("flag", Integer, nullable=False, default=True))
    assert flag.server_default.arg == "1"  # type: ignore[union-attr]
    assert server_default_for(Column("state", String(8), nullable=False, default="open")).server_default.arg == "open"  # type: ignore[union-attr]
    untouched = Column("note", String, nullable=True, default="x")
    assert server_default_for(untouched) is untouched


def _pg_admin():  # type: ignore[no-untyped-def]
    return make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty database of our own (the shared one is built by create_all, not by migrations)."""
    admin = _pg_admin()
    name = f"caseflow_mig_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: skip, as the other postgres tests do
        admin.dispose()
        pytest.skip(f"no PostgreSQL server reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_upgrade_fresh_postgres_twice(fresh_pg_url: str) -> None:
    assert migrate.current(fresh_pg_url) is None
    migrate.upgrade(fresh_pg_url)
    _assert_migrated(fresh_pg_url)
    migrate.upgrade(fresh_pg_url)
    _assert_migrated(fresh_pg_url)
