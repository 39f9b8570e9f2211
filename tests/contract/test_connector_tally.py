"""The inbound connectors' tally on SQLite and PostgreSQL: counts and latest time by outcome."""

from __future__ import annotations

from datetime import timedelta

from infrastructure.connector_tally import SqlConnectorTally, Tallied
from infrastructure.readstore import ReadDatabase
from tests.support import MONDAY


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
