"""The inbound connectors' tally on SQLite and PostgreSQL: counts and latest time by outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from infrastructure.connector_tally import SqlConnectorTally, Tallied
from infrastructure.readstore import PostgresReadDatabase, ReadDatabase, SQLiteReadDatabase
from tests.support import MONDAY


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadDatabase]:
    if request.param == "sqlite":
        database: ReadDatabase = SQLiteReadDatabase(tmp_path / "read.db")
    else:
        database = PostgresReadDatabase(
            request.getfixturevalue("postgres_url"),
            schema=request.getfixturevalue("postgres_schema"),
        )
    yield database
    database.close()


def test_each_outcome_is_counted_with_its_latest_time(db: ReadDatabase) -> None:
    tally = SqlConnectorTally(db)
    later = MONDAY + timedelta(minutes=5)
    tally.count("open311", "filed", later)
    tally.count("open311", "filed", MONDAY)  # a request that finished late: the time stays
    tally.count("open311", "error", MONDAY, "StoreUnavailable")
    tally.count("email", "filed", MONDAY)
    assert SqlConnectorTally(db).counts("open311") == {
        "filed": Tallied(2, later, None),
        "error": Tallied(1, MONDAY, "StoreUnavailable"),
    }
    assert SqlConnectorTally(db).counts("email") == {"filed": Tallied(1, MONDAY, None)}
    assert tally.counts("nothing") == {}
