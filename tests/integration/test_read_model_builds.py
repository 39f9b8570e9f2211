"""A changed projection builds into new tables while queries read the old ones, then switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.event_log import ApplicationLog, LocalLocks
from infrastructure.metrics import Metrics
from infrastructure.read_models import Catalog
from infrastructure.readstore import PostgresReadDatabase, SQLiteReadDatabase
from infrastructure.views.queues import SqlQueueView
from infrastructure.workers import ReadModelWorker
from projections.queues.view import QueueQuery
from projections.runner import Ticker
from tests.support import POPO, build_complaints, new_case
from tests.support_history import HEAD_ALL, queue_projection


@pytest.fixture(params=["sqlite", "postgres"])
def read_db(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        db = SQLiteReadDatabase(tmp_path / "read.db")
    else:
        db = PostgresReadDatabase(
            request.getfixturevalue("postgres_url"),
            schema=request.getfixturevalue("postgres_schema"),
        )
    yield db
    db.close()


def _worker(catalog: Catalog, app, version: int) -> ReadModelWorker:
    projection = queue_projection()
    projection.version = version
    return ReadModelWorker(
        catalog, {"queues": projection}, ApplicationLog(app), LocalLocks(), Ticker(), Metrics()
    )


def test_a_new_version_is_built_beside_the_live_one_and_then_replaces_it(read_db) -> None:
    app = build_complaints(POPO)
    for _ in range(3):
        app.file_case(HEAD_ALL, new_case())
    first = Catalog(read_db, {"queues": (1, SqlQueueView)})
    _worker(first, app, 1).step()
    assert len(first.live("queues").page(QueueQuery("ULPK-PUSAT"))) == 3

    app.file_case(HEAD_ALL, new_case())
    second = Catalog(read_db, {"queues": (2, SqlQueueView)}, live_cache_seconds=0)
    building = second.target("queues")
    assert building.generation == 2
    assert second.live("queues").generation == 1  # queries still read version 1 meanwhile
    assert [(b.generation, b.live) for b in second.builds("queues")] == [(1, True), (2, False)]

    _worker(second, app, 2).step()
    assert second.live("queues").generation == 2
    assert [(b.generation, b.version, b.live) for b in second.builds("queues")] == [(2, 2, True)]
    assert len(second.live("queues").page(QueueQuery("ULPK-PUSAT"))) == 4
    app.close()
