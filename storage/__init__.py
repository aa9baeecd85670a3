"""Persistence: engines for SQLite and PostgreSQL, migrations, the job queue."""
