"""PostgreSQL goes away: commands and reads answer 503 problem+json with Retry-After, fast once
the circuit breaker is open (none of them reaches the database then, one probe per open period
does), nothing is half written, and the service recovers by itself when the database is back.
Runs a throwaway cluster of its own."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from tests.e2e.conftest import SECRET
from tests.support import complaint_body
from tests.support_cluster import Cluster


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


class Monotonic:
    """The breaker's time, moved by the test: what it asserts does not depend on speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def database_requests(container: Container) -> int:
    """Connections asked of both pools so far (whether they got one or not)."""
    pools = (container.complaints.recorder.datastore.pool, container.read_db.pool)  # type: ignore[attr-defined]
    return sum(pool.get_stats().get("requests_num", 0) for pool in pools)


def unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/store-unavailable"
    assert int(response.headers["Retry-After"]) >= 1


def test_commands_answer_503_while_the_database_is_gone_and_recover_after(
    cluster: Cluster, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=cluster.url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_connect_timeout=1,
        postgres_pool_size=2,
        db_breaker_open_seconds=5,
    )
    container = bootstrap(settings)
    breaker = container.breaker
    assert breaker is not None
    clock = breaker.clock = Monotonic()
    token = container.tokens.issue("siti", ["intake_officer", "technical_officer"], ["*"])
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(container.http_app(), raise_server_exceptions=False) as client:
        before = client.post("/v1/complaints", json=complaint_body(), headers=headers)
        assert before.status_code == 201
        case = f"/v1/complaints/{before.json()['id']}"
        ack = {"message": "Diterima"}

        cluster.stop()
        # The first request finds the database gone and opens the breaker.
        unavailable(client.post("/v1/complaints", json=complaint_body(), headers=headers))
        assert breaker.state == "open"

        # While it is open, nothing reaches the database: creates (keyed or not), commands,
        # case reads, queue reads and readiness all fail at once.
        hits, rejected = database_requests(container), breaker.stats.rejected
        keyed = headers | {"Idempotency-Key": "during-the-outage"}
        answers = [
            client.post("/v1/complaints", json=complaint_body(), headers=headers),
            client.post("/v1/complaints", json=complaint_body(), headers=keyed),
            client.post(f"{case}/acknowledge", json=ack, headers=headers | {"If-Match": '"1"'}),
            client.get(case, headers=headers),
            client.get("/v1/queues/ULPK-PUSAT", headers=headers),
            client.get("/readyz"),
        ]
        for answer in answers:
            unavailable(answer)
        assert database_requests(container) == hits
        assert breaker.stats.rejected >= rejected + len(answers)

        # Half-open: one probe per open period reaches the database, the rest still fail fast.
        clock.now += breaker.open_seconds
        unavailable(client.get(case, headers=headers))
        unavailable(client.post("/v1/complaints", json=complaint_body(), headers=headers))
        assert database_requests(container) == hits + 1
        assert breaker.state == "open"

        cluster.start()

        # The service recovers by itself: a client retrying with its Idempotency-Key gets the
        # case created exactly once.
        # Each pool reconnects on its own schedule (psycopg_pool backs off, bounded by the
        # breaker's reconnect timeout), so a client retries until each request is served.
        def served(request: Callable[[], Response]) -> Response:
            deadline = time.monotonic() + 60
            while True:
                clock.now += breaker.open_seconds
                answer = request()
                if answer.status_code != 503 or time.monotonic() > deadline:
                    return answer
                time.sleep(0.5)

        retry = headers | {"Idempotency-Key": "after-the-outage"}
        after = served(lambda: client.post("/v1/complaints", json=complaint_body(), headers=retry))
        assert after.status_code == 201, after.text
        replay = client.post("/v1/complaints", json=complaint_body(), headers=retry)
        assert replay.json()["id"] == after.json()["id"]

        # Nothing half written: the case is still at version 1, and only the two 201s stored a
        # case (the keyed create that failed is not there either).
        again = served(lambda: client.get(case, headers=headers))
        assert again.status_code == 200, again.text
        assert breaker.state == "closed"
        assert again.json()["version"] == 1
        acked = client.post(f"{case}/acknowledge", json=ack, headers=headers | {"If-Match": '"1"'})
        assert acked.status_code == 200, acked.text
    container.close()
    with psycopg.connect(cluster.url) as conn:
        received = conn.execute(
            "SELECT count(*) FROM aduan_events WHERE topic LIKE %s", ("%Received",)
        ).fetchone()
    assert received == (2,)
