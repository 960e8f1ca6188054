"""Alembic migrations for the Parcours schema (run with `parcours db upgrade`)."""
