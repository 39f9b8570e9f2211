"""Intake benchmark: POST /v1/complaints on aduan vs a bare FastAPI + psycopg INSERT, same run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from _common import (  # noqa: F401 - aduan_app: uvicorn serves intake:aduan_app
    EVENTS_TABLE,
    PG_SERVER,
    Server,
    aduan_app,
    cpu_model,
    create_database,
    drop_database,
    execute,
    issue_token,
    loadavg,
    scalar,
    sigterm_as_interrupt,
    start_uvicorn,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

BARE_TABLE = "bare_complaints"
THREADS = 2

# The same body as tests/support.py complaint_body(): about ten fields, one new case per request.
BODY: dict[str, Any] = {
    "kind": "complaint",
    "channel": "phone",
    "category": "kosmetik",
    "subject": "Krim pemutih tanpa izin edar",
    "description": "Iritasi kulit setelah memakai krim tanpa nomor notifikasi",
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+62 812 3456"},
    "anonymous": False,
    "confidential": False,
    "needs_inspection": False,
    "intake_unit": "ULPK-PUSAT",
}

# wrk counts every response per thread in Lua (exact), and the requests it generated, so that
# the requests still in flight when the duration ends (wrk closes those connections without
# reading the answers) are known too.
LUA_TEMPLATE = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"

local threads = {{}}
function setup(thread) table.insert(threads, thread) end

sent = 0
created = 0
other2xx = 0
non2xx = 0
local req
function init(args) req = wrk.format() end
function request() sent = sent + 1; return req end
function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status >= 200 and status < 300 then other2xx = other2xx + 1
  else non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local s, c, o, n = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent"); c = c + t:get("created")
    o = o + t:get("other2xx"); n = n + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format("BENCH requests=%d\\n", summary.requests))
  io.write(string.format("BENCH duration_us=%d\\n", summary.duration))
  io.write(string.format("BENCH p50_us=%d\\n", latency:percentile(50)))
  io.write(string.format("BENCH p99_us=%d\\n", latency:percentile(99)))
  io.write(string.format("BENCH sent=%d\\n", s))
  io.write(string.format("BENCH created=%d\\n", c))
  io.write(string.format("BENCH other2xx=%d\\n", o))
  io.write(string.format("BENCH non2xx=%d\\n", n))
  io.write(string.format("BENCH err_connect=%d\\n", e.connect))
  io.write(string.format("BENCH err_read=%d\\n", e.read))
  io.write(string.format("BENCH err_write=%d\\n", e.write))
  io.write(string.format("BENCH err_timeout=%d\\n", e.timeout))
end
"""


# --- the two servers (uvicorn imports this module with --app-dir bench, --factory) ----------


def bare_app() -> FastAPI:
    """The baseline: one sync endpoint, one INSERT of the JSON body and a commit per request."""
    from fastapi import FastAPI
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool

    # As many connections as aduan's event store may open (pool 5 + overflow 10).
    pool = ConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=5, max_size=15, open=True)
    pool.wait()
    statement = f"INSERT INTO {BARE_TABLE} (id, body) VALUES (%s, %s)"
    app = FastAPI()

    @app.post("/v1/complaints", status_code=201)
    def create(body: dict[str, Any]) -> dict[str, str]:
        case_id = uuid4()
        with pool.connection() as conn:  # commits on leaving the block
            conn.execute(statement, (case_id, Jsonb(body)))
        return {"id": str(case_id)}

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- orchestration ------------------------------------------------------------------------


@dataclass
class Run:
    server: str
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    responses: int
    sent: int
    created: int
    other2xx: int
    non2xx: int
    errors: dict[str, int]
    stored: int | None = None
    raw: str = field(default="", repr=False)

    @property
    def in_flight(self) -> int:
        """Requests wrk wrote but whose answer it never read (cut off at the end).

        wrk 4 calls request() once more than it sends, on the first thread, to check the script.
        """
        return max(self.sent - 1 - self.responses, 0)

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.values())


def count_query(server: str) -> str:
    if server == "aduan":
        return f"SELECT count(*) FROM {EVENTS_TABLE} WHERE topic LIKE '%Received%'"
    return f"SELECT count(*) FROM {BARE_TABLE}"


def settled_count(database_url: str, server: str, timeout: float = 15.0) -> int:
    """The stored count once requests cut off by wrk have finished on the server."""
    query = count_query(server)
    last = int(scalar(database_url, query))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = int(scalar(database_url, query))
        if now == last:
            return now
        last = now
    return last


def start_server(
    name: str, factory: str, ready_path: str, env: dict[str, str], workdir: Path
) -> Server:
    return start_uvicorn(name, f"intake:{factory}", ready_path, env, workdir)


def probe(server: Server, token: str) -> None:
    """One request by hand, so that a wrong token or body fails loudly before wrk runs."""
    request = urllib.request.Request(
        server.url + "/v1/complaints",
        data=json.dumps(BODY).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise RuntimeError(f"{server.name}: probe answered {error.code}: {detail}") from error
    if status != 201:
        raise RuntimeError(f"{server.name}: probe answered {status}, expected 201")


def run_wrk(server: Server, script: Path, connections: int, seconds: int, label: str) -> Run:
    command = [
        "wrk", "-t", str(min(THREADS, connections)), "-c", str(connections), "-d", f"{seconds}s",
        "--latency", "-s", str(script), server.url + "/v1/complaints",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    values: dict[str, int] = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            key, _, value = line.removeprefix("BENCH ").partition("=")
            values[key] = int(value)
    if "requests" not in values:
        raise RuntimeError(f"could not read wrk's output:\n{done.stdout}\n{done.stderr}")
    return Run(
        server=server.name,
        label=label,
        rps=values["requests"] / (values["duration_us"] / 1e6),
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        responses=values["requests"],
        sent=values["sent"],
        created=values["created"],
        other2xx=values["other2xx"],
        non2xx=values["non2xx"],
        errors={k: values[f"err_{k}"] for k in ("connect", "read", "write", "timeout")},
        raw=done.stdout,
    )


def measure(
    server: Server, script: Path, connections: int, seconds: int, label: str, database_url: str
) -> Run:
    before = settled_count(database_url, server.name)
    run = run_wrk(server, script, connections, seconds, label)
    run.stored = settled_count(database_url, server.name) - before
    print(
        f"  {label:>8} {server.name:5}: {run.rps:8.1f} req/s  p50 {run.p50_ms:6.2f} ms  "
        f"p99 {run.p99_ms:6.2f} ms  201s {run.created}  non-2xx {run.non2xx}  "
        f"stored {run.stored}  cut off in flight {run.in_flight}",
        flush=True,
    )
    return run


def reconcile(stored: int, created: int, cut_off: int) -> tuple[bool, str]:
    """Stored rows against the 201s wrk read; wrk never reads the answers to what it cut off."""
    if stored == created:
        return True, "equal"
    if stored == created + cut_off:
        return True, f"equal once the {cut_off} requests wrk cut off are added"
    if created <= stored <= created + cut_off:
        return True, f"consistent: {stored - created} of the {cut_off} cut off were stored"
    return False, "MISMATCH"


def machine() -> dict[str, str]:
    model = cpu_model()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in (
            "eventsourcing",
            "fastapi",
            "uvicorn",
            "psycopg",
            "psycopg-binary",
            "psycopg-pool",
        )
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "postgresql": str(scalar(f"{PG_SERVER}/postgres", "SHOW server_version")),
        "python": platform.python_version(),
        "wrk": wrk_version.splitlines()[0] if wrk_version else "?",
        "packages": versions,
    }


def print_report(
    runs: list[Run], facts: dict[str, str], args: argparse.Namespace, totals: dict[str, int]
) -> bool:
    bare = [r for r in runs if r.server == "bare"]
    aduan = [r for r in runs if r.server == "aduan"]
    med = {
        name: (
            statistics.median(r.rps for r in group),
            statistics.median(r.p50_ms for r in group),
            statistics.median(r.p99_ms for r in group),
        )
        for name, group in (("bare", bare), ("aduan", aduan))
    }
    ratio = med["aduan"][0] / med["bare"][0]
    per_round = [a.rps / b.rps for a, b in zip(aduan, bare, strict=True)]
    checks = [reconcile(r.stored or 0, r.created, r.in_flight) for r in aduan]
    checks.append(reconcile(totals["aduan_events"], totals["aduan_201"], totals["aduan_cut_off"]))
    non2xx = {
        name: sum(r.non2xx for r in group) for name, group in (("bare", bare), ("aduan", aduan))
    }
    socket_errors = {
        name: sum(r.socket_errors for r in group)
        for name, group in (("bare", bare), ("aduan", aduan))
    }
    flagged = any(non2xx.values()) or any(socket_errors.values()) or not all(ok for ok, _ in checks)

    title = (
        f"POST /v1/complaints, {args.connections} connections, {min(THREADS, args.connections)} "
        f"wrk threads, {args.duration} s x {args.rounds} rounds (median)"
    )
    rows = [
        [
            name,
            f"{rps:.1f}",
            f"{p50:.2f}",
            f"{p99:.2f}",
            str(non2xx[name]),
            str(socket_errors[name]),
        ]
        for name, (rps, p50, p99) in med.items()
    ]
    headers = ["server", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print("  ".join(f"{h:>13}" for h in headers))
        for row in rows:
            print("  ".join(f"{c:>13}" for c in row))
    else:
        table = Table(title=title)
        for header in headers:
            table.add_column(header, justify="left" if header == "server" else "right")
        for row in rows:
            table.add_row(*row)
        Console().print(table)

    print(f"ratio aduan/bare (medians): {ratio:.2f}x")
    print("ratio per round:            " + ", ".join(f"{r:.2f}x" for r in per_round))
    print("reconciliation (Received events stored in aduan_events vs 201s counted by wrk):")
    for run, (_, verdict) in zip(aduan, checks[:-1], strict=True):
        print(
            f"  {run.label}: stored {run.stored}, 201s {run.created}, "
            f"cut off in flight {run.in_flight}: {verdict}"
        )
    print(
        f"  whole run (probe, warm-up, rounds): {totals['aduan_events']} Received events stored, "
        f"{totals['aduan_201']} 201s counted, {totals['aduan_cut_off']} cut off in flight: "
        f"{checks[-1][1]}"
    )
    print(
        f"  bare rows stored in measured rounds: {sum(r.stored or 0 for r in bare)}, "
        f"201s {sum(r.created for r in bare)}"
    )
    for key, value in facts.items():
        print(f"{key:>11}: {value}")
    if flagged:
        print("FLAGGED: non-2xx responses, socket errors or a reconciliation mismatch (see above)")
    return flagged


def benchmark(args: argparse.Namespace, workdir: Path, database: str, servers: list[Server]) -> int:
    database_url = f"{PG_SERVER}/{database}"
    execute(database_url, f"CREATE TABLE {BARE_TABLE} (id uuid PRIMARY KEY, body jsonb NOT NULL)")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ADUAN_")}
    aduan_env = base_env | {
        "ADUAN_DATABASE_URL": database_url,
        "ADUAN_JWT_SECRET": secrets.token_urlsafe(48),
        "ADUAN_VAR_DIR": str(workdir / "var"),
        # One token sends every request: the per-caller limit would answer 429 (it measures
        # intake throughput, not the limiter).
        "ADUAN_RATE_LIMIT_PER_MINUTE": "0",
    }
    if args.source is not None:  # aduan's packages from another tree, e.g. a `git archive`
        path = [str(args.source.resolve()), os.environ.get("PYTHONPATH", "")]
        aduan_env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    bare_env = base_env | {"BENCH_DATABASE_URL": database_url}

    token = issue_token(aduan_env, workdir)  # also creates the event store's tables
    script = workdir / "post.lua"
    script.write_text(LUA_TEMPLATE.format(body=json.dumps(BODY), token=token))

    servers.append(start_server("bare", "bare_app", "/healthz", bare_env, workdir))
    servers.append(start_server("aduan", "aduan_app", "/readyz", aduan_env, workdir))
    by_name = {s.name: s for s in servers}
    for server in servers:
        server.wait_ready()
        probe(server, token)

    facts = machine()
    facts["aduan code"] = str(args.source.resolve()) if args.source else "the installed project"
    facts["load"] = f"{loadavg()} (1/5/15-min load average at start)"
    print(
        f"database {database}; bare on :{by_name['bare'].port}, aduan on :{by_name['aduan'].port}"
    )
    totals = {"aduan_201": 1, "aduan_cut_off": 0}  # the probe
    for name in ("bare", "aduan"):
        server = by_name[name]
        warm = measure(server, script, args.connections, args.warmup, "warm-up", database_url)
        if name == "aduan":
            totals["aduan_201"] += warm.created
            totals["aduan_cut_off"] += warm.in_flight

    runs: list[Run] = []
    for number in range(1, args.rounds + 1):
        for name in ("bare", "aduan"):
            label = f"round {number}"
            run = measure(
                by_name[name], script, args.connections, args.duration, label, database_url
            )
            runs.append(run)
            if name == "aduan":
                totals["aduan_201"] += run.created
                totals["aduan_cut_off"] += run.in_flight
    totals["aduan_events"] = settled_count(database_url, "aduan")
    facts["load"] += f"; {loadavg()} at end"
    facts["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    print()
    return 1 if print_report(runs, facts, args, totals) else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of bare then aduan")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per server")
    parser.add_argument(
        "--source",
        type=Path,
        help="import aduan from this tree (put first on PYTHONPATH) instead of the installed one",
    )
    args = parser.parse_args(argv)
    if args.source is not None and not (args.source / "interfaces" / "bootstrap.py").exists():
        parser.error(f"--source {args.source}: no interfaces/bootstrap.py there")
    if min(args.duration, args.rounds, args.connections, args.warmup) < 1:
        parser.error("--duration, --rounds, --connections and --warmup must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    database = f"aduan_bench_{secrets.token_hex(4)}"
    servers: list[Server] = []
    created = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="aduan-bench-") as tmp:
        try:
            create_database(database)
            created = True
            return benchmark(args, Path(tmp), database, servers)
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
        except Exception as error:
            print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        finally:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            try:
                for server in servers:
                    server.stop()
                if created:
                    drop_database(database)
                    print(f"dropped database {database}", file=sys.stderr)
            finally:
                signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
