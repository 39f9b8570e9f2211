"""Public intake benchmark: POST /v1/public/complaints (with its scrypt-hashed PIN) against the
officers' POST /v1/complaints, and a PIN-checked GET against the officers' GET, same run.

In process (TestClient, one client at a time) on a throwaway PostgreSQL database, so the ratio
shows what the public side adds per request: mostly one scrypt hash (N=2^14, r=8, p=1).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.pins import hash_pin, verify_pin
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
OFFICER_BODY = {
    "kind": "complaint",
    "channel": "phone",
    "category": "kosmetik",
    "subject": "Krim pemutih tanpa izin edar",
    "description": "Iritasi kulit setelah memakai krim tanpa nomor notifikasi",
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
    "intake_unit": "ULPK-PUSAT",
}
PUBLIC_BODY = {k: v for k, v in OFFICER_BODY.items() if k not in ("channel", "intake_unit")}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def per_request(run: Callable[[int], None], n: int) -> float:
    """Median milliseconds of ``n`` sequential calls."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100, help="requests of each kind")
    args = parser.parse_args(argv)
    database = f"aduan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    print(f"load at start: {loadavg()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=f"{PG_SERVER}/{database}",
                jwt_secret=secrets.token_hex(32),
                var_dir=Path(tmp),
                rate_limit_per_minute=0,
            )
            container = bootstrap(settings)
            try:
                with TestClient(container.http_app()) as client:
                    token = container.tokens.issue("bench", ["intake_officer"], ["ULPK-PUSAT"])
                    officer = {"Authorization": f"Bearer {token}"}
                    ids: list[str] = []
                    pins: list[tuple[str, str]] = []

                    def officer_create(_: int) -> None:
                        answer = client.post("/v1/complaints", json=OFFICER_BODY, headers=officer)
                        assert answer.status_code == 201, answer.text
                        ids.append(answer.json()["id"])

                    def public_create(_: int) -> None:
                        answer = client.post("/v1/public/complaints", json=PUBLIC_BODY)
                        assert answer.status_code == 201, answer.text
                        pins.append((answer.json()["tracking_number"], answer.json()["pin"]))

                    def officer_read(i: int) -> None:
                        answer = client.get(f"/v1/complaints/{ids[i]}", headers=officer)
                        assert answer.status_code == 200, answer.text

                    def public_read(i: int) -> None:
                        number, pin = pins[i]
                        answer = client.get(
                            f"/v1/public/complaints/{number}", headers={"X-Tracking-Pin": pin}
                        )
                        assert answer.status_code == 200, answer.text

                    n = args.requests
                    per_request(officer_create, 10)  # warm-up
                    per_request(public_create, 10)
                    ids.clear()
                    pins.clear()
                    results = {
                        "officer create": per_request(officer_create, n),
                        "public create": per_request(public_create, n),
                        "officer read": per_request(officer_read, n),
                        "public read": per_request(public_read, n),
                    }
                    stored = hash_pin("KW04GTK63R", secrets.token_bytes(16))
                    results["scrypt verify alone"] = per_request(
                        lambda _: verify_pin("KW04GTK63R", stored), n
                    )
            finally:
                container.close()
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
    for name, ms in results.items():
        print(f"{name:22s} median {ms:7.1f} ms")
    print(
        f"ratio public/officer create: {results['public create'] / results['officer create']:.2f}x;"
        f" read: {results['public read'] / results['officer read']:.2f}x"
    )
    print(f"load at end: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
