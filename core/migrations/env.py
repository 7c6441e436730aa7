"""Alembic environment for Caseflow: the URL comes from the config's attributes, else the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from core.db import make_engine
from core.migrate import context_options, database_url

config = context.config


def _url() -> str:
    return database_url(config.attributes.get("url") or config.get_main_option("sqlalchemy.url"))


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # the pragma is ignored inside a transaction, so it goes straight to the driver before any BEGIN
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")  # type: ignore[union-attr]


def _run(connection: Connection) -> None:
    # batch mode drops and recreates SQLite tables; with foreign keys on, dropping a referenced table fails
    toggle = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if toggle:
        _sqlite_foreign_keys(connection, on=False)
    try:
        # extra options (e.g. make_migration's revision hook) travel as a config attribute
        context.configure(connection=connection, **context_options(), **config.attributes.get("configure", {}))
        with context.begin_transaction():
            context.run_migrations()
        if toggle:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:10]}")
    finally:
        if toggle and not connection.in_transaction():
            _sqlite_foreign_keys(connection, on=True)


def run_migrations_offline() -> None:
    context.configure(url=_url(), literal_binds=True, **context_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
