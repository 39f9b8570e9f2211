"""The SLA timer and notifier on PostgreSQL and SQLite, wired by bootstrap, with a manual clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap, notifier, periodic_jobs, sla_tick
from interfaces.rebuild import rebuild
from tests.support import INTAKE, MONDAY, new_case

SECRET = "test-secret-" + "x" * 32


@pytest.fixture(params=["postgres", "sqlite"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(
            database_url=f"sqlite:///{tmp_path}/aduan.db", jwt_secret=SECRET, var_dir=tmp_path
        )
    return Settings(
        database_url=request.getfixturevalue("postgres_url"),
        postgres_schema=request.getfixturevalue("postgres_schema"),
        postgres_pool_size=2,
        jwt_secret=SECRET,
        var_dir=tmp_path,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    built = bootstrap(settings, clock=clock)
    yield built
    built.close()


def _timer_job(container: Container):
    [job] = [j for j in periodic_jobs(container) if j.name == "sla-timer"]
    return job


def _stages(container: Container, case_id) -> dict:
    return {row.stage: row for row in container.catalog.live("sla").stages(case_id)}


def test_the_timer_flips_stages_on_time_with_no_new_event_and_raises_each_alert_once(
    container: Container, clock: ManualClock
) -> None:
    case = container.complaints.file_case(INTAKE, new_case())
    assert sla_tick(container, clock.now()) == []
    acknowledge = _stages(container, case.id)["acknowledge"]
    job = _timer_job(container)
    assert job.interval == 5.0

    clock.set(acknowledge.due_soon_at - timedelta(microseconds=1))
    assert job.run() == []
    clock.set(acknowledge.due_soon_at)
    soon = job.run()
    # Acknowledge and route are both due three working days after receipt.
    assert {(a.stage, a.state) for a in soon} == {
        ("acknowledge", "due_soon"),
        ("route", "due_soon"),
    }
    assert {a.tracking_number for a in soon} == {case.tracking_number}
    assert job.run() == []

    clock.set(acknowledge.due_at)
    assert job.run() == []
    clock.set(acknowledge.due_at + timedelta(microseconds=1))
    late = job.run()
    assert {(a.stage, a.state) for a in late} == {
        ("acknowledge", "breached"),
        ("route", "breached"),
    }
    assert job.run() == []
    assert len(container.alerts.alerts()) == 4
    metrics = container.metrics.exposition().decode()
    assert 'aduan_sla_alerts_total{state="breached"} 2.0' in metrics


def test_a_rebuilt_sla_read_model_raises_no_alert_again(
    container: Container, clock: ManualClock
) -> None:
    for _ in range(3):
        container.complaints.file_case(INTAKE, new_case())
    clock.advance(timedelta(days=30))
    raised = sla_tick(container, clock.now())
    assert len(raised) == 9  # three stages of three cases, all breached
    before = container.catalog.live("sla").generation
    stats = rebuild(container, "sla")
    assert stats.generation != before
    assert container.catalog.live("sla").generation == stats.generation
    assert sla_tick(container, clock.now()) == []
    clock.advance(timedelta(days=1))
    assert sla_tick(container, clock.now()) == []
    assert len(container.alerts.alerts()) == 9


class Receiver:
    """A webhook on 127.0.0.1 that answers 500 to the first request, then 200."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.bodies: list[dict] = []
        self.failures_left = 1
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                receiver.keys.append(self.headers["Idempotency-Key"])
                receiver.bodies.append(body)
                status = 200
                if receiver.failures_left:
                    receiver.failures_left -= 1
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_notifier_delivers_each_alert_at_least_once_and_retries_after_a_500(
    container: Container, clock: ManualClock
) -> None:
    assert notifier(container) is None  # no webhook configured: alerts stay in the outbox
    assert [j.name for j in periodic_jobs(container)] == ["sla-timer", "archive-timer"]
    container.complaints.file_case(INTAKE, new_case())
    clock.advance(timedelta(days=30))
    raised = sla_tick(container, clock.now())
    assert len(raised) == 3
    with Receiver() as receiver:
        container.settings.alert_webhook_url = receiver.url
        [job] = [j for j in periodic_jobs(container) if j.name == "notifier"]
        sender = notifier(container)
        assert sender is not None
        first = sender.drain(clock.now())
        assert (first.delivered, first.failed) == (2, 1)
        [failed] = [a for a in raised if container.alerts.delivery(a.id).delivered_at is None]
        entry = container.alerts.delivery(failed.id)
        assert entry.attempts == 1 and entry.last_error == "HTTP 500"
        assert entry.next_attempt_at == clock.now() + timedelta(seconds=10)
        job.run()  # not due yet: nothing is sent
        assert len(receiver.keys) == 3
        clock.advance(timedelta(seconds=10))
        job.run()
    assert set(receiver.keys) == {str(a.id) for a in raised}
    assert len(receiver.keys) == 4 and receiver.keys.count(str(failed.id)) == 2
    assert {b["id"] for b in receiver.bodies} == {str(a.id) for a in raised}
    assert all(b["state"] == "breached" and b["unit"] == "ULPK-PUSAT" for b in receiver.bodies)
    assert all(container.alerts.delivery(a.id).delivered_at is not None for a in raised)
    assert container.alerts.due_deliveries(clock.now() + timedelta(days=1), 10) == []
