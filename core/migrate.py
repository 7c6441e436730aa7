"""Schema migrations with Alembic: upgrade, current revision and a models-vs-database check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

from core.db import UTCDateTime, make_engine, normalise_url
from core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


def target_metadata() -> MetaData:
    """The models' metadata, with every table registered."""
    import models  # noqa: F401  (registers every table)
    from sqlmodel import SQLModel

    return SQLModel.metadata


def database_url(url: str | None = None) -> str:
    """The URL to migrate: the one given, else the configured database."""
    return normalise_url(url or get_settings().database_url)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write project types so that migrations need neither sqlmodel nor private imports."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import core.db")
        return "core.db.UTCDateTime()"
    if isinstance(obj, AutoString):
        length = obj.impl.length  # type: ignore[attr-defined]
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def context_options() -> dict[str, Any]:
    """Options shared by env.py and check(), so both compare the schema the same way."""
    return {
        "target_metadata": target_metadata(),
        "compare_type": True,
        # migrations are generated once and run on both databases; batch ops are no-ops on PostgreSQL
        "render_as_batch": True,
        "render_item": render_item,
    }


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config built in code (no alembic.ini); the URL travels as an attribute."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = database_url(url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database to ``revision``; running it again is a no-op."""
    command.upgrade(alembic_config(url), revision)


def _with_connection(url: str | None, fn: Callable[[Connection], T]) -> T:
    engine = make_engine(database_url(url))
    try:
        with engine.connect() as connection:
            return fn(connection)
    finally:
        engine.dispose()


def current(url: str | None = None) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    return _with_connection(url, lambda c: MigrationContext.configure(c).get_current_revision())


def _diff(connection: Connection) -> list[Any]:
    opts = context_options()
    metadata = opts.pop("target_metadata")
    return list(compare_metadata(MigrationContext.configure(connection, opts=opts), metadata))


def check(url: str | None = None) -> list[Any]:
    """Differences between the database and the models; empty means a migration covers every model change."""
    return _with_connection(url, _diff)


__all__ = ["upgrade", "current", "check", "alembic_config", "context_options", "render_item", "MIGRATIONS_DIR"]


def stamp(url: str | None = None, revision: str = "head") -> None:
    """Mark a database whose schema was made from the models (tests' ``create_all``) as at ``revision``."""
    command.stamp(alembic_config(url), revision)
