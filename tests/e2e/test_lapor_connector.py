"""SP4N-LAPOR! end to end on PostgreSQL: the connector against the fake LAPOR! on loopback.

Reports become cases once (repeated polls, a lost cursor, a restart, two importers at once);
officers work the cases over HTTP; LAPOR! receives exactly the public updates, each once, even
when it is down or failing in the middle of the run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from application.complaints import IDEMPOTENCY_NAMESPACE
from application.lapor import CONNECTOR_SUB, LaporConnector, import_key
from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap, lapor_connector, periodic_jobs
from interfaces.cli import cli
from interfaces.connectors_cli import connector_statuses
from projections.lapor.outbox import message_key
from tests.e2e.conftest import SECRET, Api
from tests.fakes.lapor import TOKEN, FakeLapor
from tests.support import MONDAY, complaint_body

READ_MODELS = ["queues", "sla", "monev", "audit", "lapor-outbox"]


@pytest.fixture
def fake() -> Iterator[FakeLapor]:
    lapor = FakeLapor().start()
    yield lapor
    lapor.stop()


@pytest.fixture
def settings(postgres_url: str, postgres_schema: str, tmp_path: Path, fake: FakeLapor) -> Settings:
    return Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
        postgres_schema=postgres_schema,
        projection_poll_seconds=0.2,
        lapor_url=fake.url,
        lapor_token=TOKEN,
        lapor_timeout_seconds=5,
    )


@contextmanager
def service(settings: Settings, clock: ManualClock, jobs: list[str] | None = None) -> Iterator[Api]:
    """The whole service; only the read models run by themselves unless ``jobs`` says more."""
    container = bootstrap(settings, clock=clock)
    container.start_background(jobs or READ_MODELS)
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            yield Api(client, container, clock)
    finally:
        container.close()


def connector(api: Api) -> LaporConnector:
    jobs = lapor_connector(api.container)
    assert jobs is not None
    return jobs


def case_id(tracking_id: str) -> UUID:
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{CONNECTOR_SUB}\x1f{import_key(tracking_id)}")


def eventually(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


def outbox_at(api: Api, position: int) -> None:
    store = api.container.lapor
    assert store is not None
    eventually(lambda: store.position() >= position)


def command(api: Api, path: str, body: dict[str, Any], version: int, *roles: str, **who) -> int:
    response = api.client.post(
        f"/v1/complaints/{path}", json=body, headers=api.headers(*roles, version=version, **who)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["position"])


JKT = {"units": ("BBPOM-JAKARTA",), "sub": "budi"}
HEAD = {"units": ("ULPK-PUSAT", "BBPOM-JAKARTA"), "sub": "kepala"}
PRIVATE = ("rute internal", "catatan internal", "budi", "siti", "kepala", "keberatan pribadi")


def test_reports_become_cases_once_and_lapor_gets_each_public_update_once(
    settings: Settings, fake: FakeLapor
) -> None:
    clock = ManualClock(MONDAY)
    for n in (1, 2, 3):
        fake.assign(f"LAP-2026-000{n}")

    with service(settings, clock) as api:
        connector(api).poll()
        events = api.stored_events()
        connector(api).poll()  # nothing new
        api.container.lapor.polled("lapor", None, clock.now())  # the cursor lost
        connector(api).poll()
        assert events == api.stored_events() == 6  # three cases, three tracking numbers

    with service(settings, clock) as api:  # a restart
        connector(api).poll()
        assert api.stored_events() == 6
        case = api.client.get(
            f"/v1/complaints/{case_id('LAP-2026-0001')}", headers=api.headers("intake_officer")
        ).json()
        assert (case["channel"], case["external_ref"], case["status"]) == (
            "lapor",
            "LAP-2026-0001",
            "received",
        )
        assert case["reporter"]["name"] == "Wati"

        # Officers work two of the cases over HTTP.
        first, second = case_id("LAP-2026-0001"), case_id("LAP-2026-0002")
        command(
            api,
            f"{first}/acknowledge",
            {"message": "Laporan Anda kami terima."},
            1,
            "intake_officer",
        )
        command(
            api,
            f"{first}/route",
            {
                "to_unit": "BBPOM-JAKARTA",
                "note": "rute internal: cek distributor",
                "assignee": "budi",
            },
            2,
            "intake_officer",
        )
        command(
            api,
            f"{first}/follow-ups",
            {
                "action": "coordination",
                "note": "catatan internal: toko milik kerabat",
                "public": False,
            },
            3,
            "technical_officer",
            **JKT,
        )
        command(
            api,
            f"{first}/follow-ups",
            {"action": "inspection", "note": "Petugas BBPOM akan memeriksa toko.", "public": True},
            4,
            "technical_officer",
            **JKT,
        )
        command(
            api,
            f"{first}/close",
            {"outcome": "substantiated", "answer": "Produk telah ditarik dari peredaran."},
            5,
            "technical_officer",
            **JKT,
        )
        command(api, f"{second}/acknowledge", {"message": "Diterima."}, 1, "intake_officer")
        last = command(
            api,
            f"{second}/close",
            {"outcome": "forwarded", "answer": "Bukan wewenang BPOM.", "forward_to": "KEMENKES"},
            2,
            "intake_officer",
        )
        outbox_at(api, last)
        connector(api).send()

        one = fake.updates_for("LAP-2026-0001")
        assert [(r.body["type"], r.body["status"]) for r in one] == [
            ("status", "acknowledged"),
            ("status", "routed"),
            ("follow_up", "in_follow_up"),
            ("status", "closed"),
        ]
        assert one[2].body["message"] == "Petugas BBPOM akan memeriksa toko."
        assert one[3].body["outcome"] == "substantiated"
        assert "message" not in one[1].body  # no routing note, no assignee
        two = fake.updates_for("LAP-2026-0002")
        assert [r.path for r in two] == ["updates", "forward"]
        assert two[1].body["target_agency"] == "KEMENKES"
        assert fake.updates_for("LAP-2026-0003") == []
        sent = json.dumps([r.body for r in fake.received.values()])
        assert not [word for word in PRIVATE if word in sent]

        # LAPOR! goes away in the middle of the run.
        fake.stop()
        command(
            api, f"{first}/reopen", {"reason": "keberatan pribadi pelapor"}, 6, "unit_head", **HEAD
        )
        last = command(
            api,
            f"{first}/follow-ups",
            {"action": "inspection", "note": "Pemeriksaan ulang dijadwalkan.", "public": True},
            7,
            "technical_officer",
            **JKT,
        )
        outbox_at(api, last)
        connector(api).send()
        down = connector_statuses(api.container)[0]
        assert (down["pending"], down["retrying"], down["delivered"]) == (1, 1, 6)
        assert down["last_error"]

        fake.start()  # back, on the same port
        connector(api).send()
        assert len(fake.updates_for("LAP-2026-0001")) == 4  # the retry waits its backoff
        clock.advance(timedelta(seconds=10))
        connector(api).send()

        # And answers 500 once.
        fake.failing = 1
        last = command(
            api,
            f"{first}/close",
            {"outcome": "answered", "answer": "Hasil pemeriksaan ulang: sesuai."},
            8,
            "technical_officer",
            **JKT,
        )
        outbox_at(api, last)
        connector(api).send()
        clock.advance(timedelta(seconds=10))
        connector(api).send()

        # And takes one in but loses its answer: sent again with the same key, kept once.
        fake.dropping = 1
        last = command(
            api, f"{first}/reopen", {"reason": "keberatan pribadi lagi"}, 9, "unit_head", **HEAD
        )
        outbox_at(api, last)
        connector(api).send()
        assert connector_statuses(api.container)[0]["retrying"] == 1
        clock.advance(timedelta(seconds=10))
        connector(api).send()
        assert fake.repeats() == 1  # the one resend; LAPOR! recorded it once
        assert fake.received[message_key(first, 10)].times == 2

        statuses = [r.body["status"] for r in fake.updates_for("LAP-2026-0001")]
        assert statuses == [
            "acknowledged",
            "routed",
            "in_follow_up",
            "closed",
            "reopened",
            "in_follow_up",
            "closed",
            "reopened",
        ]
        assert all(r.times == 1 for r in fake.received.values() if r.key != message_key(first, 10))
        final = connector_statuses(api.container)[0]
        assert (final["pending"], final["failed"], final["delivered"]) == (0, 0, 10)
        assert "keberatan" not in json.dumps([r.body for r in fake.received.values()])


def test_two_importers_at_once_file_each_report_once(settings: Settings, fake: FakeLapor) -> None:
    for n in range(15):
        fake.assign(f"LAP-C-{n}")
    clock = ManualClock(MONDAY)
    one, two = bootstrap(settings, clock=clock), bootstrap(settings, clock=clock)
    try:
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(container: Container) -> None:
            jobs = lapor_connector(container)
            assert jobs is not None
            barrier.wait()
            try:
                jobs.poll()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=run, args=(c,)) for c in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        events = one.event_log().read(0, 1000)
        received = [e for e in events if e.topic.endswith("Complaint.Received")]
        assert sorted(e.originator_id for e in received) == sorted(
            case_id(f"LAP-C-{n}") for n in range(15)
        )
    finally:
        one.close()
        two.close()


def test_aduan_work_runs_the_importer_and_the_sender_by_themselves(
    settings: Settings, fake: FakeLapor
) -> None:
    fast = settings.model_copy(update={"lapor_poll_seconds": 0.2, "lapor_send_seconds": 0.2})
    fake.assign("LAP-W-1")
    clock = ManualClock(MONDAY)
    with service(fast, clock, jobs=[*READ_MODELS, "lapor-import", "lapor-send"]) as api:
        assert {"lapor-import", "lapor-send"} <= {j.name for j in periodic_jobs(api.container)}
        eventually(lambda: api.stored_events() >= 2)
        command(
            api, f"{case_id('LAP-W-1')}/acknowledge", {"message": "Diterima."}, 1, "intake_officer"
        )
        eventually(lambda: len(fake.updates_for("LAP-W-1")) == 1)
        status = connector_statuses(api.container)[0]
        assert status["configured"] and status["last_success_at"] is not None
        eventually(lambda: connector_statuses(api.container)[0]["delivered"] == 1)
        metrics = api.client.get("/metrics").text
        assert 'aduan_connector_reports_imported_total{connector="lapor"} 1.0' in metrics
        assert (
            'aduan_connector_messages_total{connector="lapor",kind="acknowledged",'
            'result="delivered"} 1.0'
        ) in metrics
        assert 'aduan_connector_polls_total{connector="lapor",result="ok"}' in metrics


def test_connectors_status_says_whether_lapor_is_configured(
    settings: Settings, fake: FakeLapor
) -> None:
    env = {
        "ADUAN_DATABASE_URL": settings.database_url,
        "ADUAN_POSTGRES_SCHEMA": settings.postgres_schema or "",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(settings.var_dir),
    }
    off = CliRunner().invoke(cli, ["connectors", "status", "--json"], env=env)
    assert off.exit_code == 0, off.output
    assert _row(off.output, "lapor")["configured"] is False

    fake.assign("LAP-S-1")
    with service(settings, ManualClock(MONDAY)) as api:
        connector(api).poll()
    on = CliRunner().invoke(
        cli,
        ["connectors", "status", "--json"],
        env=env | {"ADUAN_LAPOR_URL": fake.url, "ADUAN_LAPOR_TOKEN": TOKEN},
    )
    assert on.exit_code == 0, on.output
    shown = _row(on.output, "lapor")
    assert shown["configured"] is True and shown["cursor"] == "1"
    assert shown["last_success_at"] is not None
    table = CliRunner().invoke(cli, ["connectors", "status"], env=env)
    assert table.exit_code == 0 and "lapor" in table.output


def _row(output: str, connector: str) -> dict[str, Any]:
    """One connector's line of ``aduan connectors status --json`` (one JSON object a line)."""
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return next(row for row in rows if row["connector"] == connector)


def test_without_a_url_the_connector_is_off(settings: Settings) -> None:
    off = settings.model_copy(update={"lapor_url": None})
    container = bootstrap(off, clock=ManualClock(MONDAY))
    try:
        assert lapor_connector(container) is None
        assert not {"lapor-import", "lapor-send"} & {j.name for j in periodic_jobs(container)}
    finally:
        container.close()


def test_forward_to_is_refused_unless_the_case_is_forwarded(sqlite_api: Api) -> None:
    api = sqlite_api
    created = api.client.post(
        "/v1/complaints", json=complaint_body(), headers=api.headers("intake_officer")
    ).json()
    command(api, f"{created['id']}/acknowledge", {"message": "Diterima."}, 1, "intake_officer")
    refused = api.client.post(
        f"/v1/complaints/{created['id']}/close",
        json={"outcome": "answered", "answer": "Jawaban.", "forward_to": "KEMENKES"},
        headers=api.headers("intake_officer", version=2),
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    case = api.client.get(f"/v1/complaints/{created['id']}", headers=api.headers("intake_officer"))
    assert case.json()["status"] == "acknowledged"
    forwarded = api.client.post(
        f"/v1/complaints/{created['id']}/close",
        json={"outcome": "forwarded", "answer": "Bukan wewenang.", "forward_to": "KEMENKES"},
        headers=api.headers("intake_officer", version=2),
    )
    assert forwarded.status_code == 200, forwarded.text
    history = api.client.get(
        f"/v1/complaints/{created['id']}/history", headers=api.headers("intake_officer")
    ).json()["events"]
    assert history[-1]["data"]["forward_to"] == "KEMENKES"


def test_the_connector_works_on_the_embedded_sqlite_default(
    tmp_path: Path, fake: FakeLapor
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        jwt_secret=SECRET,
        var_dir=tmp_path,
        projection_poll_seconds=0.2,
        lapor_url=fake.url,
        lapor_token=TOKEN,
    )
    fake.assign("LAP-L-1")
    clock = ManualClock(MONDAY)
    with service(settings, clock) as api:
        assert connector(api).poll().imported == 1
        last = command(
            api, f"{case_id('LAP-L-1')}/acknowledge", {"message": "Diterima."}, 1, "intake_officer"
        )
        outbox_at(api, last)
        fake.stop()
        assert connector(api).send().failed == 1
        fake.start()
        clock.advance(timedelta(seconds=10))
        assert connector(api).send().delivered == 1
    with service(settings, clock) as api:  # a restart: nothing imported or sent again
        assert connector(api).poll().imported == 0
        assert connector(api).send().delivered == 0
    assert [r.times for r in fake.received.values()] == [1]
