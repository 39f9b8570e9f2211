"""Read-model views on each store: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infrastructure.read_models import Catalog
from infrastructure.readstore import PostgresReadDatabase, ReadDatabase, SQLiteReadDatabase


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | ReadDatabase]:
    """"memory", or a read database of its own."""
    if request.param == "memory":
        yield "memory"
        return
    if request.param == "sqlite":
        db: ReadDatabase = SQLiteReadDatabase(tmp_path / "read.db")
    else:
        url = request.getfixturevalue("postgres_url")
        db = PostgresReadDatabase(url, schema=request.getfixturevalue("postgres_schema"))
    yield db
    db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadDatabase]:
    """A read database of its own, for the tables that have no memory twin (connectors')."""
    if request.param == "sqlite":
        database: ReadDatabase = SQLiteReadDatabase(tmp_path / "read.db")
    else:
        url = request.getfixturevalue("postgres_url")
        database = PostgresReadDatabase(url, schema=request.getfixturevalue("postgres_schema"))
    yield database
    database.close()


def view_on(store: str | ReadDatabase, memory: Callable[[], Any], sql: Any) -> Any:
    """The live view of one read model on ``store``."""
    if store == "memory":
        return memory()
    assert not isinstance(store, str)
    return Catalog(store, {sql.name: (1, sql)}).live(sql.name)
