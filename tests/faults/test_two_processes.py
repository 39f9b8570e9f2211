"""Two processes send the same command on the same case versions: exactly one wins each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from interfaces.bootstrap import Container
from tests.faults.conftest import service_env
from tests.support import INTAKE, new_case

CASES = 30

# Bootstraps the service from the environment, says "ready", waits for "go", then acknowledges
# every case at version 1 through the HTTP app and prints each answer's status.
SCRIPT = """
import json, sys
from fastapi.testclient import TestClient
from interfaces.bootstrap import bootstrap

container = bootstrap()
token = container.tokens.issue(sys.argv[1], ("intake_officer",), ("ULPK-PUSAT",))
headers = {"Authorization": f"Bearer {token}", "If-Match": '"1"'}
case_ids = json.loads(sys.argv[2])
with TestClient(container.http_app(), raise_server_exceptions=False) as client:
    print("ready", flush=True)
    sys.stdin.readline()
    answers = {}
    for case_id in case_ids:
        response = client.post(
            f"/v1/complaints/{case_id}/acknowledge", json={"message": "diterima"}, headers=headers
        )
        answers[case_id] = [response.status_code, response.json().get("type", "")]
print(json.dumps(answers), flush=True)
container.close()
"""


def _acknowledged_per_case(postgres_url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT originator_id, COUNT(*) FROM {}.aduan_events "
                "WHERE topic LIKE %s GROUP BY originator_id"
            ).format(sql.Identifier(schema)),
            ("%:Complaint.Acknowledged",),
        ).fetchall()
    return {str(case_id): count for case_id, count in rows}


def test_two_processes_acknowledging_the_same_versions_win_exactly_once_each(
    container: Container, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    case_ids = [str(container.complaints.file_case(INTAKE, new_case()).id) for _ in range(CASES)]
    env = service_env(postgres_url, postgres_schema, tmp_path, ADUAN_RATE_LIMIT_PER_MINUTE="0")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, sub, json.dumps(case_ids)],
            env=env,
            cwd=Path(__file__).parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for sub in ("siti", "rina")
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:  # both start at once, so they collide on every case
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert [process.returncode for process in processes] == [0, 0]
    first, second = (json.loads(output) for output in outputs)

    for case_id in case_ids:
        answers = sorted([first[case_id][0], second[case_id][0]])
        assert answers == [200, 412], case_id
        loser = first[case_id] if first[case_id][0] == 412 else second[case_id]
        assert loser[1].endswith("stale-version")
    assert _acknowledged_per_case(postgres_url, postgres_schema) == dict.fromkeys(case_ids, 1)


STARTUP = """
import sys
from interfaces.bootstrap import bootstrap

print("ready", flush=True)
sys.stdin.readline()
bootstrap().close()
"""


def test_processes_that_start_at_once_all_come_up(
    container: Container, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    # Without a lock around table setup, a few in ten such starts died of a deadlock or "tuple
    # concurrently updated" (CREATE OR REPLACE FUNCTION, DROP/CREATE TRIGGER).
    env = service_env(postgres_url, postgres_schema, tmp_path)
    for _ in range(2):
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", STARTUP],
                env=env,
                cwd=Path(__file__).parents[2],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for process in processes:  # every one imported, so their setups overlap
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        errors = [process.communicate(timeout=60)[1] for process in processes]
        assert [p.returncode for p in processes] == [0] * 4, "\n".join(errors)
