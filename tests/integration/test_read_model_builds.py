"""A changed projection builds into new tables while queries read the old ones, then switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.event_log import ApplicationLog, LocalLocks
from infrastructure.metrics import Metrics
from infrastructure.read_models import Catalog
from infrastructure.readstore import PostgresReadDatabase, SQLiteReadDatabase
from infrastructure.views.duplicates import SqlDuplicateView
from infrastructure.views.queues import SqlQueueView
from infrastructure.workers import ReadModelWorker
from projections.duplicates.projection import DuplicateProjection
from projections.queues.view import QueueQuery
from projections.runner import Binding, Runner, Ticker
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


def _indexes(db, view) -> set[str]:
    """The indexes on ``view``'s tables, by name with the generation left out ("_gN")."""
    tables = [view.t(table) for table in view.tables]
    with db.transaction() as cursor:
        if db.dialect == "postgresql":
            cursor.execute(
                "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        else:  # the primary key of a UUID column is an automatic index there
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")
        rows = cursor.fetchall()
    suffix = f"_g{view.generation}"
    return {str(i).replace(suffix, "_gN") for t, i in rows if t in tables}


def _primary_keys(db, view) -> set[str]:
    if db.dialect == "postgresql":
        return {
            f"{view.t(table)}_pkey".replace(f"_g{view.generation}", "_gN") for table in view.tables
        }
    return {i for i in _indexes(db, view) if i.startswith("sqlite_autoindex")}


def test_a_rebuild_writes_without_secondary_indexes_and_has_them_all_once_switched(
    read_db,
) -> None:
    app = build_complaints(POPO)
    for _ in range(5):
        app.file_case(HEAD_ALL, new_case())
    log = ApplicationLog(app)
    views = {"queues": (1, SqlQueueView), "duplicates": (1, SqlDuplicateView)}
    projections = {
        "queues": queue_projection(),
        "duplicates": DuplicateProjection(app.personal_data.open_texts),
    }
    catalog = Catalog(read_db, views, live_cache_seconds=0)
    first = {name: catalog.live(name) for name in views}
    expected = {name: _indexes(read_db, view) for name, view in first.items()}
    # The first generation is live at once: queries read it, so it has every index from the
    # start (the DDL's, and the trigram GIN index of the duplicates' text on PostgreSQL).
    for name, view in first.items():
        with read_db.transaction() as cursor:
            statements = view.index_statements(cursor)
        secondary = expected[name] - _primary_keys(read_db, view)
        assert len(secondary) == len(statements) >= 1
    if read_db.dialect == "postgresql":
        assert "rm_duplicates_cases_gN_text" in expected["duplicates"]

    rebuilt = {name: catalog.start_rebuild(name) for name in views}
    runner = Runner(log, [Binding(projections[n], v) for n, v in rebuilt.items()], batch_size=4)
    runner.step()  # part of the log: rows written, the build not at the head
    for name, view in rebuilt.items():
        assert 0 < view.position() < log.head()
        assert _indexes(read_db, view) == _primary_keys(read_db, view)
        assert catalog.live(name).generation == 1

    # Interrupted and resumed (``aduan projections rebuild`` carries it on): still without.
    resumed = {name: catalog.start_rebuild(name, resume=True) for name in views}
    assert {n: v.generation for n, v in resumed.items()} == {n: 2 for n in views}
    runner = Runner(log, [Binding(projections[n], v) for n, v in resumed.items()])
    runner.catch_up()
    for name, view in resumed.items():
        assert _indexes(read_db, view) == _primary_keys(read_db, view)
        catalog.promote(view)
        assert catalog.live(name).generation == 2
        assert _indexes(read_db, view) == expected[name]
        catalog.index(view)  # again: a no-op
        assert _indexes(read_db, view) == expected[name]
    assert len(catalog.live("queues").page(QueueQuery("ULPK-PUSAT"))) == 5
    app.close()


def test_a_new_version_built_by_the_worker_gets_its_indexes_when_it_goes_live(read_db) -> None:
    app = build_complaints(POPO)
    app.file_case(HEAD_ALL, new_case())
    first = Catalog(read_db, {"queues": (1, SqlQueueView)})
    _worker(first, app, 1).step()
    expected = _indexes(read_db, first.live("queues"))

    second = Catalog(read_db, {"queues": (2, SqlQueueView)}, live_cache_seconds=0)
    building = second.target("queues")
    assert building.generation == 2
    assert _indexes(read_db, building) == _primary_keys(read_db, building)
    _worker(second, app, 2).step()
    assert second.live("queues").generation == 2
    assert _indexes(read_db, second.live("queues")) == expected
    app.close()
