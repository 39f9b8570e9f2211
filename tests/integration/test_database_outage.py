"""PostgreSQL goes away: commands answer 503 problem+json in bounded time, and the service
recovers by itself when the database is back. Runs a throwaway cluster of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from tests.e2e.conftest import SECRET
from tests.support import complaint_body
from tests.support_server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """initdb/pg_ctl in a temporary folder, run as the postgres user (they refuse root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="aduan-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test already
            cluster.stop()
        cluster.remove()


def test_commands_answer_503_while_the_database_is_gone_and_recover_after(
    cluster: Cluster, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres",
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_connect_timeout=1,
        postgres_pool_size=2,
    )
    container = bootstrap(settings)
    headers = {
        "Authorization": f"Bearer {container.tokens.issue('siti', ['intake_officer'], ['*'])}"
    }
    with TestClient(container.http_app(), raise_server_exceptions=False) as client:
        before = client.post("/v1/complaints", json=complaint_body(), headers=headers)
        assert before.status_code == 201

        cluster.stop()
        down = client.post("/v1/complaints", json=complaint_body(), headers=headers)
        read = client.get(f"/v1/complaints/{before.json()['id']}", headers=headers)
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert "Retry-After" in down.headers
        assert read.status_code == 503

        cluster.start()
        # The pools reconnect on their own (with backoff): a client retrying with its
        # Idempotency-Key gets the case created exactly once.
        retry = headers | {"Idempotency-Key": "after-the-outage"}
        deadline = time.monotonic() + 60
        after = client.post("/v1/complaints", json=complaint_body(), headers=retry)
        while after.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            after = client.post("/v1/complaints", json=complaint_body(), headers=retry)
        assert after.status_code == 201, after.text
        replay = client.post("/v1/complaints", json=complaint_body(), headers=retry)
        assert replay.json()["id"] == after.json()["id"]
        again = client.get(f"/v1/complaints/{before.json()['id']}", headers=headers)
        assert again.status_code == 200
    container.close()
