"""The measurements of bench/scale.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    args: Any
    container: Any
    url: str
    workdir: Any
    data: Any
    say: Any
    failed: bool = False
    notes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)


# --- HTTP: servers, wrk ---------------------------------------------------------------------

import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import scale_data  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

LUA = """
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
ok = 0
bad = 0
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("BENCH requests=%d\\n", summary.requests))
  io.write(string.format("BENCH duration_us=%d\\n", summary.duration))
  io.write(string.format("BENCH p50_us=%d\\n", latency:percentile(50)))
  io.write(string.format("BENCH p90_us=%d\\n", latency:percentile(90)))
  io.write(string.format("BENCH p99_us=%d\\n", latency:percentile(99)))
  io.write(string.format("BENCH ok=%d\\n", o))
  io.write(string.format("BENCH bad=%d\\n", b))
  io.write(string.format("BENCH errors=%d\\n", e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(name: str, factory: str, env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log = workdir / f"{name}.log"
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH_DIR),
        f"scale_servers:{factory}", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(name, port, process, log)


def get(url: str, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_ready(server: Server, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            status, _ = get(server.url + path, timeout=2)
            if status < 500:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} not ready after {timeout} s")


@dataclass
class Run:
    label: str
    rps: float
    p50: float
    p90: float
    p99: float
    ok: int
    bad: int
    errors: int


def run_wrk(url: str, token: str, seconds: float, clients: int, label: str, workdir: Path) -> Run:
    script = workdir / "get.lua"
    script.write_text(LUA.format(token=token))
    command = [
        "wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    values: dict[str, int] = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            key, _, value = line.removeprefix("BENCH ").partition("=")
            values[key] = int(value)
    if done.returncode != 0 or "requests" not in values:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Run(
        label,
        values["requests"] / (values["duration_us"] / 1e6),
        values["p50_us"] / 1000,
        values["p90_us"] / 1000,
        values["p99_us"] / 1000,
        values["ok"],
        values["bad"],
        values["errors"],
    )


def server_env(context: Context) -> dict[str, str]:
    settings = context.container.settings
    env = dict(os.environ)
    env.update(
        {
            "ADUAN_DATABASE_URL": context.url,
            "ADUAN_JWT_SECRET": context.args.jwt_secret,
            "ADUAN_VAR_DIR": str(settings.var_dir),
            "BENCH_DATABASE_URL": context.url,
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def busiest_unit(context: Context) -> tuple[str, int]:
    from domain.vocabulary import OPEN_STATUSES

    view = context.container.catalog.live("queues")
    open_values = {s.value for s in OPEN_STATUSES}
    with context.container.read_db.transaction() as cursor:
        cursor.execute(
            f"SELECT handling_unit, count(*) FROM {view.t('items')} "
            "WHERE status = ANY(%s) GROUP BY handling_unit ORDER BY 2 DESC LIMIT 1",
            (sorted(open_values),),
        )
        unit, count = cursor.fetchone()
    return unit, int(count)


def explain(context: Context, sql: str, params: Any) -> str:
    import psycopg

    with psycopg.connect(context.url) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return "\n".join("      " + r[0] for r in rows)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def timed_threads(call: Any, count: int, threads: int) -> tuple[float, float, float]:
    """p50, p99 (ms) and calls/s of ``call`` from ``threads`` threads, ``count`` calls each."""

    def worker() -> list[float]:
        spent = []
        for _ in range(count):
            started = time.perf_counter()
            call()
            spent.append((time.perf_counter() - started) * 1000)
        return spent

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = [f.result() for f in [pool.submit(worker) for _ in range(threads)]]
    seconds = time.perf_counter() - started
    flat = [x for r in results for x in r]
    return percentile(flat, 50), percentile(flat, 99), len(flat) / seconds


IDLE_LEAVES = {
    "Condition.wait",
    "Event.wait",
    "Queue.get",
    "EpollSelector.select",
    "select",
    "Connection.wait",  # psycopg waiting for PostgreSQL's answer
    "wait",
}


def summarise(path: Path, say: Any, top: int = 14) -> None:
    """Own and inclusive shares of the request threads' frames in a py-spy raw file."""
    from collections import Counter

    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    if not path.exists():
        say("     (py-spy wrote nothing)")
        return
    idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.partition(" (")[0] + " (" + Path(f.partition(" (")[2]).name.split(":")[0] + ")"
                  for f in stack.split(";")]  # fmt: skip
        if frames[-1].split(" (")[0] in IDLE_LEAVES:
            idle += int(count)  # threads parked on a lock, queue or selector: not CPU
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    say(
        f"     py-spy of the aduan server during that run: {total} samples on CPU "
        f"({idle} of parked threads left out); own time:"
    )
    for frame, samples in own.most_common(top):
        say(f"       {samples / total:6.1%}  {frame}")
    say("     inclusive:")
    for frame, samples in inclusive.most_common(top * 2):
        say(f"       {samples / total:6.1%}  {frame}")


def sync_indexes(context: Context) -> None:
    """A kept database made by older code: its live tables get the indexes the views now define
    (created when missing, dropped when no longer defined)."""
    import re

    import psycopg

    catalog = context.container.catalog
    with psycopg.connect(context.url, autocommit=True) as conn:
        for name in catalog.views:
            view = catalog.live(name)
            for table, ddl in view.tables.items():
                full = view.t(table)
                wanted = {}
                for statement in ddl.split(";"):
                    found = re.match(r"\s*CREATE INDEX (\S+) ON", statement.format(t=full))
                    if found:
                        wanted[found.group(1)] = statement.format(t=full)
                present = {
                    r[0]
                    for r in conn.execute(
                        "SELECT indexname FROM pg_indexes WHERE tablename = %s "
                        "AND indexname NOT LIKE '%%pkey'",
                        (full,),
                    ).fetchall()
                }
                for index in present - set(wanted):
                    conn.execute(f"DROP INDEX {index}")
                    context.say(f"   dropped index {index} (no longer defined)")
                for index in set(wanted) - present:
                    conn.execute(wanted[index])
                    context.say(f"   created index {index} (defined since the data was made)")


def run_queries(context: Context) -> None:
    import psycopg

    sync_indexes(context)
    from projections.queues.view import QueueQuery
    from projections.sla.view import SlaQuery

    say, args, workdir = context.say, context.args, Path(context.workdir)
    container = context.container
    unit, open_count = busiest_unit(context)
    queues = container.catalog.live("queues")
    sla = container.catalog.live("sla")
    items = queues.t("items")
    say(f"\n2. queries, {args.clients} clients; busiest unit {unit} ({open_count:,} open cases)")
    from scale_servers import BARE_COLUMNS, BARE_TABLE

    started = time.perf_counter()
    with psycopg.connect(context.url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        conn.execute(f"CREATE TABLE {BARE_TABLE} AS SELECT {BARE_COLUMNS} FROM {items}")
        conn.execute(f"CREATE INDEX ON {BARE_TABLE} (handling_unit, sort_key, id)")
        conn.execute(f"VACUUM ANALYZE {BARE_TABLE}")
        rows = conn.execute(f"SELECT count(*) FROM {BARE_TABLE}").fetchone()[0]  # type: ignore[index]
    say(
        f"   baseline table {BARE_TABLE}: {rows:,} rows copied from {items} "
        f"({time.perf_counter() - started:.1f} s)"
    )

    now = datetime.now(UTC)
    at_unit = frozenset({unit})
    direct = {
        "queue page (view.page, limit 51)": lambda: queues.page(QueueQuery(unit, limit=51)),
        "queue counts (view.counts)": lambda: queues.counts(unit, False),
        "alerts, unit, limit 51": lambda: sla.flagged(SlaQuery(now, at_unit, False, None, 51)),
        "alerts, all units, limit 51": lambda: sla.flagged(SlaQuery(now, None, False, None, 51)),
    }
    bare_sql = (
        f"SELECT {BARE_COLUMNS} FROM {BARE_TABLE} WHERE handling_unit = %s "
        "ORDER BY sort_key, id LIMIT 51"
    )
    from psycopg_pool import ConnectionPool

    with ConnectionPool(context.url, min_size=5, max_size=5) as pool:

        def bare_direct() -> Any:
            with pool.connection() as conn:
                return conn.execute(bare_sql, (unit,)).fetchall()

        say(f"   in-process, {args.clients} threads, 100 calls each (p50 / p99 ms, calls/s):")
        for label, call in {"baseline SELECT (bare_items)": bare_direct, **direct}.items():
            call()
            p50, p99, rate = timed_threads(call, 100, args.clients)
            say(f"     {label:<36} {p50:7.2f} {p99:7.2f} {rate:8.0f}/s")
            context.results[f"direct {label}"] = (p50, p99, rate)

    env = server_env(context)
    servers = [
        start_server("bare", "bare_app", env, workdir),
        start_server("aduan", "aduan_app", env, workdir),
    ]
    try:
        for server in servers:
            wait_ready(server, "/healthz")
        token = container.tokens.issue("bench", ["technical_officer"], ["*"])
        bare, aduan = servers
        urls = {
            "baseline: bare FastAPI, one indexed SELECT page": f"{bare.url}/bare/{unit}",
            "GET /v1/queues/{unit}": f"{aduan.url}/v1/queues/{unit}",
            "GET /v1/queues/{unit}/counts": f"{aduan.url}/v1/queues/{unit}/counts",
            "GET /v1/sla/alerts?unit=&limit=50": f"{aduan.url}/v1/sla/alerts?unit={unit}&limit=50",
            "GET /v1/sla/alerts?limit=50 (all)": f"{aduan.url}/v1/sla/alerts?limit=50",
            "GET /v1/sla/alerts?unit= (limit 1000)": f"{aduan.url}/v1/sla/alerts?unit={unit}",
            "GET /v1/sla/alerts (all, limit 1000)": f"{aduan.url}/v1/sla/alerts",
        }
        for label, url in urls.items():
            status, body = get(url, token)
            if status != 200:
                raise RuntimeError(f"{label}: {status} {body}")
            size = len(body.get("items", body.get("counts", {})))
            context.notes.append(f"{label}: {size} items")
        run_wrk(urls[next(iter(urls))], token, 3, args.clients, "warm-up", workdir)
        run_wrk(urls["GET /v1/queues/{unit}"], token, 3, args.clients, "warm-up", workdir)
        say(
            f"   HTTP, wrk -t 2 -c {args.clients} -d {args.duration:g}s "
            "(p50 / p90 / p99 ms, req/s):"
        )
        baseline = None
        for label, url in urls.items():
            spy = None
            if args.py_spy and label == "GET /v1/queues/{unit}":
                spy = subprocess.Popen(
                    [args.py_spy, "record", "--pid", str(aduan.process.pid), "--format", "raw",
                     "--duration", f"{args.duration:g}", "--rate", "200", "-o",
                     str(workdir / "queue-page.txt")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            run = run_wrk(url, token, args.duration, args.clients, label, workdir)
            if spy is not None:
                spy.wait(60)
                summarise(workdir / "queue-page.txt", say)
            baseline = baseline or run
            flag = (
                ""
                if run.bad == 0 and run.errors == 0
                else f"  FLAGGED {run.bad} non-200, {run.errors} errors"
            )
            if run.bad or run.errors:
                context.failed = True
            say(
                f"     {label:<48} {run.p50:7.2f} {run.p90:7.2f} {run.p99:7.2f}  "
                f"{run.rps:7.0f}/s  p99 {run.p99 / baseline.p99:4.1f}x baseline{flag}"
            )
            context.results[f"http {label}"] = run
            time.sleep(1)
        for note in context.notes:
            say(f"     ({note})")
    finally:
        for server in servers:
            server.stop()

    say("   plans (EXPLAIN ANALYZE):")
    for label, sql, params in explained_queries(context, unit, now):
        say(f"   -- {label}\n{explain(context, sql, params)}")


def explained_queries(context: Context, unit: str, now: datetime) -> list[tuple[str, str, Any]]:
    from domain.vocabulary import OPEN_STATUSES
    from infrastructure.views.queues import COLUMNS as QUEUE_COLUMNS
    from infrastructure.views.sla import COLUMNS as SLA_COLUMNS

    queues = context.container.catalog.live("queues")
    sla = context.container.catalog.live("sla")
    statuses = sorted(s.value for s in OPEN_STATUSES)
    marks = ", ".join("%s" for _ in statuses)
    return [
        (
            "queue page",
            f"SELECT {QUEUE_COLUMNS} FROM {queues.t('items')} WHERE handling_unit = %s AND "
            f"status IN ({marks}) AND restricted = %s ORDER BY sort_key, id LIMIT 51",
            [unit, *statuses, False],
        ),
        (
            "queue counts",
            f"SELECT status, SUM(n) FROM {queues.t('counts')} WHERE handling_unit = %s "
            "AND restricted = %s GROUP BY status",
            [unit, False],
        ),
        (
            "alerts, all units, limit 1001",
            f"SELECT {SLA_COLUMNS} FROM {sla.t('stages')} WHERE paused = %s AND due_soon_at <= %s "
            "AND restricted = %s ORDER BY due_at, case_id, stage LIMIT 1001",
            [False, now, False],
        ),
    ]


# --- the SLA timer ----------------------------------------------------------------------------


def run_sla(context: Context) -> None:
    import psycopg

    from infrastructure.alerts import ALERTS, OUTBOX
    from interfaces.bootstrap import sla_tick, sla_timer

    say, container = context.say, context.container
    sla = container.catalog.live("sla")
    stages = sla.t("stages")
    now = datetime.now(UTC)
    with psycopg.connect(context.url, autocommit=True) as conn:
        if not context.args.warm_alerts:
            conn.execute(f"TRUNCATE {OUTBOX}, {ALERTS}")  # a cold alert log: every alert is new
        open_cases, rows, due = conn.execute(
            f"SELECT count(DISTINCT case_id), count(*), count(*) FILTER (WHERE NOT paused AND "
            f"due_soon_at <= %s) FROM {stages}",
            (now,),
        ).fetchone()  # type: ignore[misc]
    say(
        f"\n3. SLA timer: {rows:,} open stages of {open_cases:,} open cases; {due:,} due soon or "
        f"breached at {now:%H:%M:%S} UTC"
    )

    def baseline() -> int:
        with psycopg.connect(context.url) as conn:
            return len(
                conn.execute(
                    f"SELECT * FROM {stages} WHERE NOT paused AND due_soon_at <= %s "
                    "ORDER BY due_at, case_id, stage",
                    (now,),
                ).fetchall()
            )

    timer = sla_timer(container)
    times: dict[str, float] = {}
    started = time.perf_counter()
    found = baseline()
    times["baseline"] = time.perf_counter() - started
    started = time.perf_counter()
    pending = sla.unalerted(now, timer.batch_size)
    times["one unalerted() batch"] = time.perf_counter() - started
    started = time.perf_counter()
    raised = timer.tick(now)
    times["first tick"] = time.perf_counter() - started
    if context.args.warm_alerts:
        say("   (--warm-alerts: the alert log of an earlier run kept; the first tick is not cold)")
    started = time.perf_counter()
    again = timer.tick(now)
    times["steady tick"] = time.perf_counter() - started
    started = time.perf_counter()
    via_cli = sla_tick(container, now)
    times["aduan tick"] = time.perf_counter() - started
    say(f"   baseline: one SELECT of the {found:,} due rows, ordered: {times['baseline']:.3f} s")
    say(
        f"   unalerted(now, {timer.batch_size}) on a cold alert log: {len(pending):,} rows in "
        f"{times['one unalerted() batch']:.3f} s"
    )
    say(
        f"   SlaTimer.tick, cold alert log (raises every alert): {len(raised):,} alerts in "
        f"{times['first tick']:.2f} s ({times['first tick'] / times['baseline']:.1f}x baseline)"
    )
    say(
        f"   SlaTimer.tick again, nothing new (the periodic job's usual scan): {len(again)} "
        f"alerts in {times['steady tick']:.3f} s ({times['steady tick'] / times['baseline']:.1f}x "
        f"baseline)"
    )
    say(
        f"   sla_tick (`aduan tick`: catch up, then a scan): {len(via_cli)} alerts in "
        f"{times['aduan tick']:.3f} s"
    )
    context.results["sla"] = times | {"raised": len(raised), "due": due}
    alert_latency(context, stages)


def alert_latency(context: Context, stages: str, probes: int = 20) -> None:
    """Stages made due soon a few seconds ahead; how long until the periodic timer's alert."""
    import psycopg

    from infrastructure.alerts import ALERTS

    say, args, container = context.say, context.args, context.container
    now = datetime.now(UTC)
    with psycopg.connect(context.url, autocommit=True) as conn:
        picked = conn.execute(
            f"SELECT case_id, stage FROM {stages} WHERE NOT paused AND due_soon_at > %s "
            "AND due_at > %s + interval '1 hour' ORDER BY case_id LIMIT %s",
            (now, now, probes),
        ).fetchall()
        if not picked:
            say("   no stage due later: alert latency not measured")
            return
        container.start_background(only=["sla-timer"])
        time.sleep(args.timer_seconds * 2)
        start = datetime.now(UTC)
        due_at: dict[tuple[Any, str], datetime] = {}
        for i, (case_id, stage) in enumerate(picked):
            instant = start + timedelta(seconds=2 + i * 0.37)
            due_at[(case_id, stage)] = instant
            conn.execute(
                f"UPDATE {stages} SET due_soon_at = %s WHERE case_id = %s AND stage = %s",
                (instant, case_id, stage),
            )
        seen: dict[tuple[Any, str], datetime] = {}
        deadline = time.monotonic() + 2 + probes * 0.37 + 30
        while len(seen) < len(due_at) and time.monotonic() < deadline:
            rows = conn.execute(
                f"SELECT case_id, stage FROM {ALERTS} WHERE state = 'due_soon' "
                "AND case_id = ANY(%s)",
                ([k[0] for k in due_at],),
            ).fetchall()
            at = datetime.now(UTC)
            for row in rows:
                key = (row[0], row[1])
                if key in due_at and key not in seen:
                    seen[key] = at
            time.sleep(0.01)
        container.stop_background()
    delays = sorted((seen[k] - due_at[k]).total_seconds() for k in seen)
    missing = len(due_at) - len(seen)
    say(
        f"   alert latency, periodic sla-timer every {args.timer_seconds:g} s "
        f"(ADUAN_SLA_TIMER_SECONDS), {len(due_at)} stages made due soon "
        f"2-{2 + probes * 0.37:.0f} s "
        f"ahead, alert log polled every 10 ms: p50 {statistics.median(delays):.2f} s, "
        f"max {delays[-1]:.2f} s" + (f"; {missing} never seen (FLAGGED)" if missing else "")
    )
    context.results["alert latency"] = delays
    if missing:
        context.failed = True


# --- the auditor ------------------------------------------------------------------------------


def case_with_events(container: Any, count: int) -> Any:
    """A real case of ``count`` events through the application: filed, acknowledged, routed,
    then follow-ups (half of them public, so the history shows notes)."""
    from application.access import Principal, Role
    from application.complaints import NewCase
    from domain.values import Reporter
    from domain.vocabulary import Category, Channel, FollowUpAction, Kind

    app = container.complaints
    intake = Principal("bench-intake", frozenset({Role.INTAKE_OFFICER}), frozenset({"ULPK-PUSAT"}))
    tech = Principal("bench-tech", frozenset({Role.TECHNICAL_OFFICER}), frozenset({"ULPK-PUSAT"}))
    new = NewCase(
        kind=Kind.COMPLAINT,
        channel=Channel.PHONE,
        category=Category.KOSMETIK,
        subject="Krim pemutih tanpa izin edar",
        description="Iritasi kulit setelah memakai krim tanpa nomor notifikasi",
        reporter=Reporter(name="Siti Rahma", email="siti@example.id", phone="+62 812 3456"),
        anonymous=False,
        confidential=False,
        needs_inspection=False,
        intake_unit="ULPK-PUSAT",
    )
    result = app.file_case(intake, new)
    case_id, version = result.id, result.version
    version = app.acknowledge(intake, case_id, version, message="Diterima.").version
    version = app.route(
        intake, case_id, version, to_unit="ULPK-PUSAT", note="Tindak lanjut.", assignee="bench-tech"
    ).version
    while version < count:
        version = app.follow_up(
            tech,
            case_id,
            version,
            action=FollowUpAction.CLARIFICATION,
            note=f"Catatan tindak lanjut {version}.",
            public=version % 2 == 0,
        ).version
    return case_id, version


def median_ms(call: Any, count: int) -> tuple[float, float]:
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), percentile(spent, 99)


def run_auditor(context: Context) -> None:
    import psycopg

    from application.access import Principal, Role
    from projections.audit.verify import verify_view

    say, args, container = context.say, context.args, context.container
    app = container.complaints
    case_id, version = case_with_events(container, 100)
    say(f"\n4. auditor: a real case with {version} events, {case_id}")
    auditor = Principal("bench-auditor", frozenset({Role.AUDITOR}), frozenset({"*"}))
    recorder: Any = app.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'

    with psycopg.connect(context.url) as conn:

        def bare() -> Any:
            return conn.execute(
                f"SELECT * FROM {table} WHERE originator_id = %s ORDER BY originator_version",
                (case_id,),
            ).fetchall()

        rows = {
            "baseline: SELECT the 100 stored events (psycopg)": bare,
            "repository.get (full replay, library)": lambda: app.repository.get(case_id),
            "app.case(as_of_version=50)": lambda: app.case(auditor, case_id, as_of_version=50),
            "app.case(as_of_version=100)": lambda: app.case(auditor, case_id, as_of_version=100),
            "app.history": lambda: app.history(auditor, case_id),
        }
        say("   in-process, one caller, 200 calls each (median / p99 ms):")
        for label, call in rows.items():
            call()
            p50, p99 = median_ms(call, 200)
            say(f"     {label:<50} {p50:7.2f} {p99:7.2f}")
            context.results[f"replay {label}"] = (p50, p99)

    env = server_env(context)
    server = start_server("aduan-audit", "aduan_app", env, Path(context.workdir))
    try:
        wait_ready(server, "/healthz")
        token = container.tokens.issue("bench-auditor", ["auditor"], ["*"])
        urls = {
            "GET /v1/complaints/{id}?as_of_version=50": (
                f"{server.url}/v1/complaints/{case_id}?as_of_version=50"
            ),
            "GET /v1/complaints/{id}/history": f"{server.url}/v1/complaints/{case_id}/history",
        }
        say("   HTTP, wrk -t 1 -c 1 -d 5s (p50 / p90 / p99 ms, req/s):")
        for label, url in urls.items():
            status, body = get(url, token)
            if status != 200:
                raise RuntimeError(f"{label}: {status} {body}")
            run_wrk(url, token, 2, 1, "warm-up", Path(context.workdir))
            run = run_wrk(url, token, 5, 1, label, Path(context.workdir))
            say(f"     {label:<50} {run.p50:7.2f} {run.p90:7.2f} {run.p99:7.2f}  {run.rps:6.0f}/s")
            context.results[f"http {label}"] = run
    finally:
        server.stop()

    # Verification: the trail over (at least) --verify-events events, built by the projection.
    generator = scale_data.ScaleGenerator(container, 100)
    view = container.catalog.fixed["audit"]
    if view.position() < args.verify_events:
        position, seconds = generator.build_audit(args.verify_events)
        say(f"   audit trail built to position {position:,} in {seconds:.1f} s")
    log = container.event_log()
    entries = view.position()

    def baseline() -> int:
        """The least a verification does: read both sides in batches, hash every stored event."""
        import hashlib

        from infrastructure.views.audit import CHAIN

        done = 0
        with psycopg.connect(context.url) as conn, conn.cursor(binary=True) as cursor:
            after = 0
            while True:
                cursor.execute(
                    f"SELECT seq, position, hash FROM {CHAIN} WHERE seq > %s "
                    "ORDER BY seq LIMIT 5000",
                    (after,),
                )
                trail = cursor.fetchall()
                if not trail:
                    return done
                cursor.execute(
                    f"SELECT notification_id, state FROM {table} WHERE notification_id > %s "
                    "ORDER BY notification_id LIMIT %s",
                    (trail[0][1] - 1, len(trail)),
                )
                for row in cursor.fetchall():
                    hashlib.sha256(row[1]).digest()
                done += len(trail)
                after = trail[-1][0]

    started = time.perf_counter()
    counted = baseline()
    base_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = verify_view(view, log)
    seconds = time.perf_counter() - started
    say(
        f"   baseline (read both sides, sha256 of each stored event): {counted:,} in "
        f"{base_seconds:.2f} s = {counted / base_seconds:,.0f} entries/s"
    )
    say(
        f"   verify_view: ok={result.ok}, {result.entries:,} entries in {seconds:.2f} s = "
        f"{result.entries / seconds:,.0f} entries/s ({base_seconds / seconds:.2f}x the baseline's "
        f"rate)"
    )
    if not result.ok or result.entries != entries:
        say(f"   FLAGGED: {result}")
        context.failed = True
    context.results["verify"] = (result.entries, seconds, counted, base_seconds)
