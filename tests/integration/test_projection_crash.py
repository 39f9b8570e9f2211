"""Kill -9 a read-model worker in the middle of a catch-up: it resumes with no duplicate, no gap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from tests.support import HEAD, new_case
from tests.support_history import HEAD_ALL

SECRET = "crash-test-secret-" + "y" * 32


def _settings(postgres_url: str, schema: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=postgres_url,
        postgres_schema=schema,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
    )


def _worker(postgres_url: str, schema: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "ADUAN_DATABASE_URL": postgres_url,
        "ADUAN_POSTGRES_SCHEMA": schema,
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
        "ADUAN_PROJECTION_BATCH_SIZE": "3",
        "ADUAN_PROJECTION_CATCH_UP_BATCH_SIZE": "3",
        "ADUAN_PROJECTION_POLL_SECONDS": "0.2",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from interfaces.cli import main; main()",
            "work",
            "--only",
            "queues",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _check_exactly_once(postgres_url: str, schema: str, container) -> tuple[int, int]:
    """Every case's item is at the version of its events up to the view's position."""
    view = container.catalog.live("queues")
    position = view.position()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT originator_id, COUNT(*) FROM {}.aduan_events "
                "WHERE notification_id <= %s AND topic LIKE %s GROUP BY originator_id"
            ).format(sql.Identifier(schema)),
            (position, "%:Complaint.%"),
        ).fetchall()
    expected = {case_id: count for case_id, count in rows}
    items = view.items(list(expected))
    assert {i: item.version for i, item in items.items()} == expected
    return position, len(items)


def test_a_killed_worker_resumes_exactly_once(postgres_url, postgres_schema, tmp_path) -> None:
    container = bootstrap(_settings(postgres_url, postgres_schema, tmp_path))
    app = container.complaints
    for _ in range(150):
        created = app.file_case(HEAD_ALL, new_case())
        app.acknowledge(HEAD, created.id, 1, message="diterima")
        app.route(HEAD, created.id, 2, to_unit="BBPOM-JAKARTA", note="periksa")
    head = container.event_log().head()
    view = container.catalog.live("queues")

    worker = _worker(postgres_url, postgres_schema, tmp_path)
    deadline = time.monotonic() + 60
    while view.position() < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at, _ = _check_exactly_once(postgres_url, postgres_schema, container)
    assert 60 <= killed_at < head  # killed in the middle of the catch-up

    again = _worker(postgres_url, postgres_schema, tmp_path)
    try:
        while view.position() < head and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=10)
    position, cases = _check_exactly_once(postgres_url, postgres_schema, container)
    assert position == head and cases == 150
    container.close()
