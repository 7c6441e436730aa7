"""Alembic environment of Caseflow (env.py is run by Alembic, not imported)."""
