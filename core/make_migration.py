"""Autogenerate the next migration: ``python -m core.make_migration "add x to policy"`` after changing a model.

It upgrades a throw-away SQLite database to head, compares it with the models and writes
``core/migrations/versions/<NNNN>_<slug>.py`` with the next four-digit revision id. Review the file
(rename things, add data moves), then run ``pytest tests/core/test_migrations.py`` on SQLite and
PostgreSQL. A new NOT NULL column gets a server default from its scalar model default so existing
rows get a value (SQLite refuses the column otherwise); a warning names any column it cannot fill.
It refuses to write an empty migration unless ``--empty`` is given (for data-only steps).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.operations import ops
from alembic.script import ScriptDirectory
from sqlalchemy import Column, DefaultClause

from core.migrate import alembic_config, check, upgrade


def next_revision_id(script: ScriptDirectory) -> str:
    """One more than the highest numeric revision id, zero-padded to four digits."""
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def server_default_for(column: Column[Any]) -> Column[Any]:
    """A copy of a new NOT NULL column carrying its scalar default as a server default."""
    if column.nullable or column.server_default is not None:
        return column
    default = column.default
    value = default.arg if default is not None and default.is_scalar else None  # type: ignore[attr-defined]
    if isinstance(value, bool):
        value = int(value)  # '1'/'0' is a valid literal for BOOLEAN on both databases
    if not isinstance(value, (int, float, Decimal, str)):
        print(f"warning: new NOT NULL column {column.name!r} has no scalar default: add server_default", file=sys.stderr)
        return column
    # a copy, so the models' own metadata is left untouched
    copy = column._copy()
    copy.server_default = DefaultClause(str(value))
    return copy


def _fill_server_defaults(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
    for table_ops in directives[0].upgrade_ops.ops:  # type: ignore[union-attr]
        for op in getattr(table_ops, "ops", [table_ops]):
            if isinstance(op, ops.AddColumnOp):
                op.column = server_default_for(op.column)


def make_migration(message: str, empty: bool = False) -> Path | None:
    """Write the next revision and return its path; None when the models match the migrations."""
    with tempfile.TemporaryDirectory(prefix="caseflow_mig_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        if not empty and not check(url):
            return None
        cfg = alembic_config(url)
        cfg.attributes["configure"] = {"process_revision_directives": _fill_server_defaults}
        script = ScriptDirectory.from_config(cfg)
        if len(script.get_heads()) > 1:
            raise SystemExit(f"several heads {script.get_heads()}: merge them first")
        rev = command.revision(cfg, message=message, autogenerate=not empty, rev_id=next_revision_id(script))
    return Path(rev.path)  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.make_migration", description=__doc__.splitlines()[0])
    parser.add_argument("message", help="what the migration does, e.g. 'add holder email to policy'")
    parser.add_argument("--empty", action="store_true", help="write an empty revision to fill in by hand")
    args = parser.parse_args(argv)
    path = make_migration(args.message, empty=args.empty)
    if path is None:
        print("models and migrations agree: nothing to generate")
        return 1
    print(f"wrote {path}: review it before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
