"""Kill -9 the API in the middle of a burst of creates: every retried key yields one case."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from interfaces.bootstrap import Container
from tests.faults.conftest import service_env, start_api
from tests.support import complaint_body
from tests.support_server import free_port

REQUESTS = 200
THREADS = 16
KILL_AFTER = 40  # answered requests before the kill: well inside the burst


def _received_per_case(postgres_url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT originator_id, COUNT(*) FROM {}.aduan_events "
                "WHERE topic LIKE %s GROUP BY originator_id"
            ).format(sql.Identifier(schema)),
            ("%:Complaint.Received",),
        ).fetchall()
    return {str(case_id): count for case_id, count in rows}


def test_every_create_retried_after_a_kill_exists_exactly_once(
    container: Container, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(postgres_url, postgres_schema, tmp_path, ADUAN_RATE_LIMIT_PER_MINUTE="0")
    token = container.tokens.issue("siti", ("intake_officer",), ("ULPK-PUSAT",))
    keys = [f"burst-{n}" for n in range(REQUESTS)]
    bodies = {key: complaint_body(subject=f"Keluhan {key}") for key in keys}

    def post(client: httpx.Client, key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        return client.post("/v1/complaints", json=bodies[key], headers=headers)

    first: dict[str, httpx.Response | Exception] = {}
    answered = threading.Semaphore(0)

    def fire(client: httpx.Client, key: str) -> None:
        try:
            first[key] = post(client, key)
        except httpx.TransportError as error:  # the process died under this request
            first[key] = error
        answered.release()

    api = start_api(env, port)
    try:
        with (
            httpx.Client(base_url=base, timeout=30) as client,
            ThreadPoolExecutor(THREADS) as pool,
        ):
            futures = [pool.submit(fire, client, key) for key in keys]
            for _ in range(KILL_AFTER):
                answered.acquire(timeout=30)
            api.send_signal(signal.SIGKILL)
            api.wait(timeout=10)
            for future in futures:
                future.result()
    finally:
        if api.poll() is None:
            api.kill()
            api.wait(timeout=10)

    created_first = {
        k: r.json()["id"]
        for k, r in first.items()
        if isinstance(r, httpx.Response) and r.status_code == 201
    }
    failed = [k for k, r in first.items() if isinstance(r, Exception)]
    assert KILL_AFTER <= len(created_first) < REQUESTS and failed  # killed mid-burst
    assert all(isinstance(r, Exception) or r.status_code == 201 for r in first.values())

    again = start_api(env, port)
    try:
        with httpx.Client(base_url=base, timeout=30) as client, ThreadPoolExecutor(THREADS) as pool:
            retried = dict(zip(keys, pool.map(lambda key: post(client, key), keys), strict=True))
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=10)

    assert {r.status_code for r in retried.values()} == {201}
    ids = {key: r.json()["id"] for key, r in retried.items()}
    assert all(ids[key] == case_id for key, case_id in created_first.items())
    assert len(set(ids.values())) == REQUESTS
    assert _received_per_case(postgres_url, postgres_schema) == dict.fromkeys(ids.values(), 1)
