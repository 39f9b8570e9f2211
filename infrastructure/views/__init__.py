"""The SQL views of the read models (PostgreSQL and SQLite)."""
