"""`aduan projections status|rebuild` and `aduan work` on the embedded SQLite default."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.cli import cli
from projections.queues.view import QueueQuery
from projections.runner import Binding, Runner
from tests.e2e.conftest import SECRET
from tests.support import new_case
from tests.support_history import HEAD_ALL


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path}/aduan.db",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
    }


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        database_url=env["ADUAN_DATABASE_URL"], jwt_secret=SECRET, var_dir=env["ADUAN_VAR_DIR"]
    )


def test_a_rebuild_builds_a_new_generation_and_switches_queries_to_it(env) -> None:
    container = bootstrap(_settings(env))
    for _ in range(5):
        container.complaints.file_case(HEAD_ALL, new_case())
    live = container.catalog.live("queues")
    Runner(container.event_log(), [Binding(container.projections["queues"], live)]).catch_up()
    before = live.page(QueueQuery("ULPK-PUSAT", limit=100))
    container.close()

    result = CliRunner().invoke(cli, ["projections", "rebuild", "queues"], env=env)
    assert result.exit_code == 0, result.output
    assert "the new generations are live" in result.output

    status = CliRunner().invoke(cli, ["projections", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "queues" in status.output and "live" in status.output

    container = bootstrap(_settings(env))
    rebuilt = container.catalog.live("queues")
    assert rebuilt.generation == 2
    assert [b.generation for b in container.catalog.builds("queues")] == [2]
    assert rebuilt.page(QueueQuery("ULPK-PUSAT", limit=100)) == before
    container.close()


def test_work_refuses_a_job_it_does_not_know(env) -> None:
    result = CliRunner().invoke(cli, ["work", "--only", "no-such-job"], env=env)
    assert result.exit_code != 0
    assert "no-such-job" in result.output


def test_work_names_the_connectors_jobs_it_runs_beside_the_read_models(env) -> None:
    # `aduan work` used to name only the read models, as if the timers and connectors' jobs
    # were not running.
    proc = subprocess.Popen(
        [sys.executable, "-c", "from interfaces.cli import main; main()", "work"],
        env=os.environ | env | {"ADUAN_INBOUND_SECRETS": '{"sms": "an-sms-secret-of-16+"}'},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    banner = ""
    try:
        while "Ctrl-C" not in banner:
            banner += lines.get(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    named = banner.replace("\n", " ")
    for name in ("queues", "email-outbox", "sla-timer", "archive-timer", "inbound-prune"):
        assert name in named, banner
