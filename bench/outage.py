"""How long a request takes to be told 503 while PostgreSQL is gone: without the circuit breaker
(ADUAN_DB_BREAKER_FAILURES=0, the library's retries) and with it, in the same run.

Runs a throwaway cluster (tests/support_cluster.py: initdb/pg_ctl as the postgres user in a
temporary folder, on a free port), the whole service in process (FastAPI TestClient over
``bootstrap().http_app()``, group commit on), and for each mode: one create (201), stop the
cluster, then ``--requests`` sequential requests of each kind (create, keyed create, acknowledge,
case read), each timed, with the connections asked of the two pools; start the cluster and time
until a create answers 201 again. Prints the figures, the ratio and the load average.

    .venv/bin/python bench/outage.py       # --requests 3 --connect-timeout 1 --outage-seconds 0
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project first: bench/projections.py shadows the package

from fastapi.testclient import TestClient  # noqa: E402

from infrastructure.settings import Settings  # noqa: E402
from interfaces.bootstrap import Container, bootstrap  # noqa: E402
from tests.support import complaint_body  # noqa: E402
from tests.support_cluster import Cluster  # noqa: E402

KINDS = ("create", "keyed create", "acknowledge", "case read")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pool_requests(container: Container) -> int:
    pools = (container.complaints.recorder.datastore.pool, container.read_db.pool)  # type: ignore[attr-defined]
    return sum(pool.get_stats().get("requests_num", 0) for pool in pools)


def run(
    cluster: Cluster, breaker: bool, requests: int, connect_timeout: int, outage: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        settings = Settings(
            database_url=cluster.url,
            jwt_secret="x" * 40,
            var_dir=Path(var),
            postgres_connect_timeout=connect_timeout,
            postgres_pool_size=2,
            db_breaker_failures=1 if breaker else 0,
            rate_limit_per_minute=0,
        )
        container = bootstrap(settings)
        token = container.tokens.issue("bench", ["intake_officer", "technical_officer"], ["*"])
        headers = {"Authorization": f"Bearer {token}"}
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        statuses: set[int] = set()
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            first = client.post("/v1/complaints", json=complaint_body(), headers=headers)
            assert first.status_code == 201, first.text
            case = f"/v1/complaints/{first.json()['id']}"
            cluster.stop()
            stopped = time.perf_counter()
            hits = pool_requests(container)
            for i in range(requests):
                calls = {
                    "create": lambda: client.post(
                        "/v1/complaints", json=complaint_body(), headers=headers
                    ),
                    "keyed create": lambda i=i: client.post(
                        "/v1/complaints",
                        json=complaint_body(),
                        headers=headers | {"Idempotency-Key": f"outage-{i}"},
                    ),
                    "acknowledge": lambda: client.post(
                        f"{case}/acknowledge",
                        json={"message": "Diterima"},
                        headers=headers | {"If-Match": '"1"'},
                    ),
                    "case read": lambda: client.get(case, headers=headers),
                }
                for kind in KINDS:
                    start = time.perf_counter()
                    answer = calls[kind]()
                    times[kind].append(time.perf_counter() - start)
                    statuses.add(answer.status_code)
                    print(f"  {kind}: {answer.status_code} {times[kind][-1] * 1000:.0f} ms")
            hits = pool_requests(container) - hits
            # A client keeps trying while the database stays away (the length of an outage
            # decides how far psycopg_pool's reconnection backs off).
            while time.perf_counter() - stopped < outage:
                client.post("/v1/complaints", json=complaint_body(), headers=headers)
                time.sleep(0.5)
            down = time.perf_counter() - stopped
            cluster.start()
            started = time.perf_counter()
            while True:
                answer = client.post("/v1/complaints", json=complaint_body(), headers=headers)
                if answer.status_code == 201 or time.perf_counter() - started > 120:
                    break
                time.sleep(0.2)
            recovered = time.perf_counter() - started if answer.status_code == 201 else None
        container.close()
    return {
        "times": times,
        "statuses": statuses,
        "hits": hits,
        "recovered": recovered,
        "down": down,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3, help="requests of each kind")
    parser.add_argument("--connect-timeout", type=int, default=1, help="pool timeout, seconds")
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=0.0,
        help="keep the database away at least this long (a create every 0.5 s meanwhile)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"load at start: {loadavg()}")
    results = {}
    for breaker in (False, True):
        cluster = Cluster()
        cluster.start()
        try:
            print(f"breaker {'on' if breaker else 'off'}:")
            results[breaker] = run(
                cluster, breaker, args.requests, args.connect_timeout, args.outage_seconds
            )
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                cluster.stop()
            cluster.remove()
    print(f"load at end: {loadavg()}")
    total = args.requests * len(KINDS)
    print(f"\n{args.requests} request(s) of each kind, pool timeout {args.connect_timeout} s")
    print("| kind | breaker off: mean (max) | breaker on: mean (max) |")
    print("|---|---|---|")
    for kind in KINDS:
        cells = []
        for breaker in (False, True):
            t = results[breaker]["times"][kind]
            cells.append(f"{statistics.mean(t) * 1000:.0f} ms ({max(t) * 1000:.0f} ms)")
        print(f"| {kind} | {cells[0]} | {cells[1]} |")
    for breaker in (False, True):
        r = results[breaker]
        recovered = "never" if r["recovered"] is None else f"{r['recovered']:.1f} s"
        print(
            f"breaker {'on ' if breaker else 'off'}: statuses {sorted(r['statuses'])}, "
            f"{r['hits']} connection requests to the pools for {total} requests, "
            f"database away {r['down']:.0f} s, 201 again {recovered} after it was back"
        )
    off = [x for t in results[False]["times"].values() for x in t]
    on = [x for t in results[True]["times"].values() for x in t]
    print(f"mean 503 latency, off/on: {statistics.mean(off) / statistics.mean(on):.1f}x")
    return 0 if results[True]["statuses"] == {503} else 1


if __name__ == "__main__":
    sys.exit(main())
