"""Kill -9 a projection worker in the middle of a build, then in the middle of a rebuild.

Each time the process is started again and carries on from its last committed batch. At the end
every read model holds exactly what a rebuild with no interruption gives, row for row, and the
audit trail has every stored event once, in log order, with a gapless seq, and verifies.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from domain.complaint import Complaint
from domain.tracking_index import TrackingNumberIndex
from domain.tracking_number import RANDOM_BYTES, tracking_number_from
from domain.values import Actor
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome
from interfaces.bootstrap import Container
from interfaces.rebuild import rebuild_together
from projections.audit.verify import verify_view
from tests.faults.conftest import CLI, service_env

CASES = 3000  # about 19,500 events: a build of a few seconds in batches of 1000
UNITS = ("ULPK-PUSAT", "BBPOM-JAKARTA", "BBPOM-BANDUNG", "BBPOM-SURABAYA")
CASE_MODELS = ("queues", "monev", "sla")
SMALL_BATCHES = {
    "ADUAN_PROJECTION_BATCH_SIZE": "1000",
    "ADUAN_PROJECTION_CATCH_UP_BATCH_SIZE": "1000",
    "ADUAN_PROJECTION_POLL_SECONDS": "0.2",
}


def write_history(container: Container, cases: int, seed: int = 5) -> int:
    """Cases filed and handled with the domain's commands, saved a round of many cases per
    transaction, so that one case's events are spread over the log as they are in service."""
    app = container.complaints
    rng = random.Random(seed)
    policy = app.policies.current().version
    start = datetime.now(UTC) - timedelta(days=60)
    steps: list[list[Any]] = []
    for n in range(cases):
        at = start + timedelta(minutes=17 * n)
        kind = list(Kind)[n % len(Kind)]
        channel = list(Channel)[n % len(Channel)]
        case = Complaint.receive(
            id=UUID(int=rng.getrandbits(128), version=4),
            tracking_number=tracking_number_from(rng.randbytes(RANDOM_BYTES)),
            kind=kind,
            channel=channel,
            category=list(Category)[n % len(Category)],
            subject=f"Pengaduan {n}",
            description="Uraian pengaduan.",
            reporter=None,
            anonymous=True,
            confidential=n % 17 == 0,
            needs_inspection=n % 5 == 0,
            intake_unit=UNITS[n % len(UNITS)],
            received_at=at,
            external_ref=None,
            policy_version=policy,
            request_fingerprint=None,
            actor=Actor("petugas", UNITS[n % len(UNITS)]),
            at=at,
        )
        steps.append([case, TrackingNumberIndex.assign(case.tracking_number, case.id, at), at])
    saved = 0
    for round_ in range(8):  # round 0 files the cases, each later round takes one step of each
        chunk: list[Any] = []
        for n, (case, index, at) in enumerate(steps):
            if round_ == 0:
                chunk += [case, index]
            elif _step(case, n, round_, at + timedelta(hours=7 * round_)):
                chunk.append(case)
            if len(chunk) >= 400:
                saved += _save(app, chunk)
                chunk = []
        saved += _save(app, chunk)
    return saved


def _save(app: Any, aggregates: list[Any]) -> int:
    pending = sum(len(a.pending_events) for a in aggregates)
    if aggregates:
        app.save(*aggregates)
    return pending


def _step(case: Complaint, n: int, round_: int, at: datetime) -> bool:
    """One step of case ``n``'s history; False when its history has ended (some stay open)."""
    who = Actor(f"petugas-{n % 7}", case.handling_unit)
    stop_after = 2 + n % 6  # rounds taken: 2 (still open, acknowledged) .. 7
    if round_ > stop_after:
        return False
    if round_ == 1:
        case.acknowledge(message="diterima", actor=who, at=at)
    elif round_ == 2:
        target = UNITS[(n + 1) % len(UNITS)]
        case.route(to_unit=target, note="disposisi", assignee=f"staf-{n % 3}", actor=who, at=at)
    elif round_ == 3:
        action = FollowUpAction.REQUEST_DATA if n % 4 == 0 else FollowUpAction.CLARIFICATION
        case.follow_up(action=action, note="tindak lanjut", public=True, actor=who, at=at)
    elif round_ == 4:
        if case.waiting_for_complainant:
            case.record_complainant_reply(message="data", actor=Actor("pelapor", None), at=at)
        else:
            case.follow_up(
                action=FollowUpAction.CLARIFICATION, note="lagi", public=False, actor=who, at=at
            )
    elif round_ == 5:
        case.close(outcome=Outcome.ANSWERED, answer="dijawab", actor=who, at=at)
    elif round_ == 6:
        case.reopen(reason="belum puas", actor=who, at=at)
    else:
        case.close(outcome=Outcome.ANSWERED, answer="dijawab lagi", actor=who, at=at)
    return True


_WATCH: dict[str, psycopg.Connection[Any]] = {}


def builds(postgres_url: str, schema: str) -> dict[str, tuple[int, int, bool]]:
    """Each read model's newest build: (generation, position, live); the audit trail's
    position as ``audit`` (generation 1, always live)."""
    conn = _WATCH.get(schema)
    if conn is None or conn.closed:
        conn = _WATCH[schema] = psycopg.connect(postgres_url, autocommit=True)
    rows = conn.execute(
        sql.SQL(
            "SELECT DISTINCT ON (name) name, generation, position, live "
            "FROM {}.aduan_read_models ORDER BY name, generation DESC"
        ).format(sql.Identifier(schema))
    ).fetchall()
    trail = conn.execute(
        sql.SQL("SELECT COALESCE(MAX(position), 0) FROM {}.aduan_audit_chain").format(
            sql.Identifier(schema)
        )
    ).fetchone()
    return {r[0]: (r[1], r[2], r[3]) for r in rows} | {"audit": (1, trail[0] if trail else 0, True)}


def dump(postgres_url: str, schema: str, name: str, generation: int) -> dict[str, list[Any]]:
    """Every row of every table of one build, in key order (case states included, as bytes)."""
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name LIKE %s ORDER BY table_name",
            (schema, f"rm\\_{name}\\_%\\_g{generation}"),
        ).fetchall()
        found: dict[str, list[Any]] = {}
        for (table,) in tables:
            short = table.removeprefix(f"rm_{name}_").removesuffix(f"_g{generation}")
            found[short] = conn.execute(
                sql.SQL("SELECT * FROM {}.{} ORDER BY 1, 2").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            ).fetchall()
    assert found, f"no tables for {name} g{generation}"
    return found


def dumps(postgres_url: str, schema: str) -> dict[str, dict[str, list[Any]]]:
    live = builds(postgres_url, schema)
    return {n: dump(postgres_url, schema, n, live[n][0]) for n in CASE_MODELS}


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def kill_mid_way(
    process: subprocess.Popen[bytes],
    postgres_url: str,
    schema: str,
    generation: int,
    head: int,
    names: tuple[str, ...] = CASE_MODELS,
) -> dict[str, tuple[int, int, bool]]:
    """SIGKILL once the builds of ``names`` (case read models: of ``generation``) are past a
    quarter of the log; the builds at that moment."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        now = builds(postgres_url, schema)
        if all((now[n][0] == generation or n == "audit") and now[n][1] >= head // 4 for n in names):
            break
        time.sleep(0.01)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return builds(postgres_url, schema)


def events(postgres_url: str, schema: str) -> list[int]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT notification_id FROM {}.aduan_events ORDER BY 1").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    return [r[0] for r in rows]


def check_trail(container: Container, postgres_url: str, schema: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        chain = conn.execute(
            sql.SQL("SELECT seq, position FROM {}.aduan_audit_chain ORDER BY seq").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    stored = events(postgres_url, schema)
    assert [seq for seq, _ in chain] == list(range(1, len(stored) + 1))  # gapless, no repeat
    assert [position for _, position in chain] == stored  # every event once, in log order
    result = verify_view(container.catalog.live("audit"), container.event_log())
    assert result.ok, result.reason
    assert result.entries == len(stored)


def test_a_killed_build_and_a_killed_rebuild_resume_and_equal_a_clean_rebuild(
    container: Container, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    written = write_history(container, CASES)
    head = container.event_log().head()
    assert written == head > 10_000
    env = service_env(postgres_url, postgres_schema, tmp_path, **SMALL_BATCHES)
    work = ("work", "--only", "queues", "--only", "monev", "--only", "sla", "--only", "audit")

    # 1. The workers' first build of every read model (the audit trail too), killed mid-way.
    first = builds(postgres_url, postgres_schema)
    assert all(first[n][1] == 0 for n in CASE_MODELS)
    everything = (*CASE_MODELS, "audit")
    killed = kill_mid_way(start(env, *work), postgres_url, postgres_schema, 1, head, everything)
    assert all(head // 4 <= killed[n][1] < head for n in everything)  # in the middle
    again = start(env, *work)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = builds(postgres_url, postgres_schema)
        if all(now[n][1] == head for n in everything):
            break
        time.sleep(0.05)
    again.send_signal(signal.SIGTERM)
    again.wait(timeout=20)
    assert all(now[n][1] == head for n in everything)
    built = dumps(postgres_url, postgres_schema)

    # 2. `aduan projections rebuild` (all read models), killed mid-way, started again.
    killed = kill_mid_way(
        start(env, "projections", "rebuild"), postgres_url, postgres_schema, 2, head
    )
    # still building, in the middle
    assert all(killed[n][0] == 2 and not killed[n][2] for n in CASE_MODELS)
    assert all(head // 4 <= killed[n][1] < head for n in CASE_MODELS)
    resumed = start(env, "projections", "rebuild")
    _, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr.decode()
    after = builds(postgres_url, postgres_schema)
    # The killed generation itself was carried on and made live, not a new one from scratch.
    assert all(after[n] == (2, head, True) for n in CASE_MODELS)
    rebuilt = dumps(postgres_url, postgres_schema)

    # 3. A rebuild with no interruption, in this process, is the reference.
    stats = rebuild_together(container, list(CASE_MODELS))
    assert stats.resumed_from == 0 and stats.generation == 3
    clean = dumps(postgres_url, postgres_schema)
    for name in CASE_MODELS:
        assert rebuilt[name] == clean[name], name
        assert built[name] == clean[name], name
    assert len(clean["queues"]["items"]) == CASES
    assert len(clean["monev"]["facts"]) == CASES
    check_trail(container, postgres_url, postgres_schema)
    for conn in _WATCH.values():
        conn.close()
