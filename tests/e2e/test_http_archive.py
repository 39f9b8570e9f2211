"""The missing-data loop on PostgreSQL: a request for data pauses the clock; ten working days of
silence, counted in the handling unit's calendar, and the timer archives the case, once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infrastructure.settings import Settings
from interfaces.bootstrap import archive_tick, periodic_jobs, silence_archiver, sla_tick
from interfaces.cli import cli
from tests.e2e.conftest import SECRET, Api, _api
from tests.e2e.test_http_public import case_id_of, history, officer, public_command, track

INTAKE = ("intake_officer",)
ULPK = ("ULPK-PUSAT",)
AUDITOR = ("auditor",)
# Requested on Monday 2 November 2026 (no holiday in sight): ten working days later is Monday
# 16 November, whose last instant is 16:59:59.999999 UTC in Jakarta (WIB, +7) and
# 15:59:59.999999 UTC in Makassar (WITA, +8).
LAST_INSTANT_WIB = datetime(2026, 11, 16, 16, 59, 59, 999999, tzinfo=UTC)
LAST_INSTANT_WITA = datetime(2026, 11, 16, 15, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture
def api(postgres_url: str, postgres_schema: str, tmp_path: Path):
    """The service on PostgreSQL whose own archive timer runs only once, at start: these tests
    run the scans themselves, at the instants they choose."""
    configured = Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
        postgres_schema=postgres_schema,
        projection_poll_seconds=0.2,
        archive_timer_seconds=3600,
    )
    yield from _api(configured)


def waiting_case(api: Api, unit: str = "ULPK-PUSAT") -> tuple[str, str, str]:
    """A public case acknowledged (and routed to ``unit``), then asked for data on Monday."""
    answer = api.client.post(
        "/v1/public/complaints",
        json={
            "kind": "complaint",
            "category": "kosmetik",
            "subject": "Krim tanpa izin edar",
            "description": "Dijual daring tanpa nomor notifikasi",
        },
    )
    assert answer.status_code == 201, answer.text
    tracking_number, pin = answer.json()["tracking_number"], answer.json()["pin"]
    case_id = case_id_of(api, tracking_number)
    officer(api, case_id, "acknowledge", {"message": "Diterima"}, INTAKE, ULPK)
    roles, units = INTAKE, ULPK
    if unit != "ULPK-PUSAT":
        officer(api, case_id, "route", {"to_unit": unit, "note": "Wilayah"}, INTAKE, ULPK)
        roles, units = ("technical_officer",), (unit,)
    officer(
        api,
        case_id,
        "follow-ups",
        {"action": "request_data", "note": "Mohon kirim foto produk", "public": True},
        roles,
        units,
    )
    return tracking_number, pin, case_id


def case(api: Api, case_id: str) -> dict[str, Any]:
    answer = api.client.get(
        f"/v1/complaints/{case_id}", headers=api.headers(*AUDITOR, units=("*",))
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def tick_at(api: Api, instant: datetime) -> list[str]:
    """What ``aduan tick`` does: the SLA view to the head, then one archive scan."""
    api.clock.set(instant)
    sla_tick(api.container, instant)
    return [str(i) for i in archive_tick(api.container, instant)]


def test_a_case_silent_for_ten_working_days_is_archived_by_the_timer(api) -> None:
    tracking_number, pin, case_id = waiting_case(api)
    stages = case(api, case_id)["service_levels"]
    assert {s["state"] for s in stages if s["completed_at"] is None} == {"paused"}

    assert tick_at(api, LAST_INSTANT_WIB) == []
    assert case(api, case_id)["status"] == "acknowledged"

    assert tick_at(api, LAST_INSTANT_WIB + timedelta(microseconds=1)) == [case_id]
    archived = case(api, case_id)
    assert archived["status"] == "closed"
    assert archived["outcome"] == "archived_missing_data"
    assert archived["waiting_for_complainant"] is False
    assert "10 working days" in archived["answer"]
    closed = history(api, case_id)[-1]
    assert closed["type"] == "Closed" and closed["actor"] == {"sub": "system", "unit": None}

    view = track(api, tracking_number, pin).json()
    assert view["status"] == "closed" and view["outcome"] == "archived_missing_data"
    assert view["timeline"][-1]["type"] == "closed"

    events = api.stored_events()
    assert tick_at(api, LAST_INSTANT_WIB + timedelta(days=3)) == []
    assert api.stored_events() == events  # idempotent: nothing more is written
    # The complainant may object to the archive: the case is reopened.
    objected = public_command(api, tracking_number, pin, "objection", {"reason": "Data ada"})
    assert objected.status_code == 200 and objected.json()["status"] == "reopened"


def test_silence_is_counted_in_the_handling_units_own_time_zone(api) -> None:
    _, _, makassar = waiting_case(api, "BBPOM-MAKASSAR")
    _, _, jakarta = waiting_case(api, "BBPOM-JAKARTA")
    # Past Monday's end in Makassar (WITA), still Monday evening in Jakarta (WIB).
    assert tick_at(api, LAST_INSTANT_WITA + timedelta(minutes=30)) == [makassar]
    assert case(api, jakarta)["status"] == "in_follow_up"
    assert tick_at(api, LAST_INSTANT_WIB + timedelta(minutes=30)) == [jakarta]


def test_an_admins_closure_of_the_unit_extends_the_silence(api) -> None:
    _, _, case_id = waiting_case(api)
    closure = api.client.post(
        "/v1/admin/closures",
        json={"days": ["2026-11-10"], "unit": "ULPK-PUSAT", "reason": "Kantor tutup"},
        headers=api.headers("admin", units=("*",)),
    )
    assert closure.status_code in (200, 201), closure.text
    assert tick_at(api, LAST_INSTANT_WIB + timedelta(hours=1)) == []
    assert tick_at(api, LAST_INSTANT_WIB + timedelta(days=1, hours=1)) == [case_id]


def test_a_reply_in_time_keeps_the_case_open(api) -> None:
    tracking_number, pin, case_id = waiting_case(api)
    api.clock.set(LAST_INSTANT_WIB - timedelta(hours=2))
    replied = public_command(api, tracking_number, pin, "replies", {"message": "Foto terlampir"})
    assert replied.status_code == 200, replied.text
    assert tick_at(api, LAST_INSTANT_WIB + timedelta(days=5)) == []
    assert case(api, case_id)["status"] == "acknowledged"


def test_two_timers_at_once_close_each_case_exactly_once(api) -> None:
    ids = [waiting_case(api)[2] for _ in range(3)]
    instant = LAST_INSTANT_WIB + timedelta(hours=1)
    api.clock.set(instant)
    sla_tick(api.container, instant)
    results: list[list[Any]] = []
    start = threading.Barrier(3)

    def scan() -> None:
        archiver = silence_archiver(api.container)
        start.wait()
        results.append(archiver.tick(instant))

    threads = [threading.Thread(target=scan) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    archived = sorted(str(i) for found in results for i in found)
    assert archived == sorted(ids)  # each case by exactly one of the timers
    for case_id in ids:
        closes = [e for e in history(api, case_id) if e["type"] == "Closed"]
        assert len(closes) == 1


def test_the_archive_timer_is_a_periodic_job_and_runs_in_aduan_tick(
    api, postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    job = next(j for j in periodic_jobs(api.container) if j.name == "archive-timer")
    assert job.interval == 3600  # ADUAN_ARCHIVE_TIMER_SECONDS
    _, _, by_job = waiting_case(api)
    late = LAST_INSTANT_WIB + timedelta(hours=1)
    api.clock.set(late)
    sla_tick(api.container, late)  # the SLA view up to date, as the running worker keeps it
    job.run()  # what the background loop calls, at the container clock's now
    assert case(api, by_job)["outcome"] == "archived_missing_data"

    api.clock.set(datetime(2026, 11, 3, 2, 0, tzinfo=UTC))
    _, _, case_id = waiting_case(api)
    env = {
        "ADUAN_DATABASE_URL": postgres_url,
        "ADUAN_POSTGRES_SCHEMA": postgres_schema,
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
    }
    early = CliRunner().invoke(cli, ["tick", "--now", "2026-11-17T23:00:00+07:00"], env=env)
    assert early.exit_code == 0, early.output
    assert "0 case(s) archived" in early.output
    late = CliRunner().invoke(cli, ["tick", "--now", "2026-11-18T00:00:01+07:00"], env=env)
    assert late.exit_code == 0, late.output
    assert "1 case(s) archived" in late.output
    assert case(api, case_id)["outcome"] == "archived_missing_data"
