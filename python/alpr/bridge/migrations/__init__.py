"""Alembic migrations of the bridge store (``env.py`` and ``versions/``)."""
