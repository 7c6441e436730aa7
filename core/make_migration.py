"""Autogenerate the next migration: ``python -m core.make_migration "add x to policy"`` after changing a model.

It upgrades a throw-away SQLite database to head, compares it with the models and writes
``core/migrations/versions/<NNNN>_<slug>.py`` with the next four-digit revision id. Review the file
(rename things, add data moves), then run ``pytest tests/core/test_migrations.py`` on SQLite and
PostgreSQL. It refuses to write an empty migration unless ``--empty`` is given (for data-only steps).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from core.migrate import alembic_config, check, upgrade


def next_revision_id(script: ScriptDirectory) -> str:
    """One more than the highest numeric revision id, zero-padded to four digits."""
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def make_migration(message: str, empty: bool = False) -> Path | None:
    """Write the next revision and return its path; None when the models match the migrations."""
    with tempfile.TemporaryDirectory(prefix="caseflow_mig_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        if not empty and not check(url):
            return None
        cfg = alembic_config(url)
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
