"""Group commit of creates on PostgreSQL: one writer, one transaction for what is waiting."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import IntegrityError
from prometheus_client.parser import text_string_to_metric_families

from application.complaints import CommandResult, Complaints, PreparedCase
from domain.tracking_index import TrackingNumberIndex
from infrastructure.clock import ManualClock
from infrastructure.group_commit import GroupCommitter
from infrastructure.settings import Settings
from interfaces.http.routes.complaints import _file_together
from tests.e2e.conftest import SECRET, Api, _api
from tests.support import INTAKE, build_complaints, complaint_body, new_case

CREATE = "/v1/complaints"


def received_events(complaints: Complaints) -> list[Any]:
    notifications = complaints.recorder.select_notifications(start=1, limit=100_000)
    return [n for n in notifications if n.topic.endswith("Received")]


def committer_of(api: Api) -> GroupCommitter:
    committer = api.client.app.state.services.committer  # type: ignore[attr-defined]
    assert isinstance(committer, GroupCommitter)
    return committer


def swap_committer(api: Api, **options: Any) -> GroupCommitter:
    """Put a committer with other options in front of the running service."""
    complaints = api.container.complaints
    committer = GroupCommitter(
        complaints.save,
        store_keys=complaints.personal_data.keys.add_many,
        observer=api.container.metrics,
        **options,
    )
    api.client.app.state.services.committer = committer  # type: ignore[attr-defined]
    api.container.committer, old = committer, api.container.committer
    if old is not None:
        old.stop()
    return committer


def post_in_background(api: Api, body: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[httpx.Response] = []
    headers = api.headers("intake_officer")
    thread = threading.Thread(
        target=lambda: answers.append(api.client.post(CREATE, json=body, headers=headers))
    )
    thread.start()
    return thread, answers


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition (a behaviour to reach, not a timing assertion)."""
    for _ in range(2000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("condition never became true")


@pytest.fixture(name="api")
def service(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The whole service on PostgreSQL, as tests/e2e's ``api``."""
    settings = Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
        postgres_schema=postgres_schema,
        projection_poll_seconds=0.2,
    )
    yield from _api(settings)


@pytest.fixture
def pg_app(postgres_env: dict[str, str], clock: ManualClock) -> Iterator[Complaints]:
    app = build_complaints(postgres_env, clock)
    yield app
    app.close()


def test_fifty_concurrent_creates_are_each_stored_once_with_distinct_positions(api: Api) -> None:
    committer = committer_of(api)
    start = threading.Barrier(50)

    def create(i: int) -> httpx.Response:
        headers = api.headers("intake_officer", sub=f"officer-{i}")  # each under its rate limit
        start.wait()
        return api.client.post(CREATE, json=complaint_body(subject=f"kasus {i}"), headers=headers)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(create, range(50)))

    assert [a.status_code for a in answers] == [201] * 50
    bodies = [a.json() for a in answers]
    assert len({b["id"] for b in bodies}) == 50
    assert len({b["position"] for b in bodies}) == 50
    assert len({b["tracking_number"] for b in bodies}) == 50
    assert [a.headers["Location"] for a in answers] == [f"{CREATE}/{b['id']}" for b in bodies]
    assert all(a.headers["ETag"] == '"1"' for a in answers)
    stored = received_events(api.container.complaints)
    assert sorted(str(n.originator_id) for n in stored) == sorted(b["id"] for b in bodies)
    assert {n.id for n in stored} == {b["position"] for b in bodies}
    # Each case's data key was stored (by the writer, before the events): the reporter opens.
    read = api.client.get(answers[-1].headers["Location"], headers=api.headers("intake_officer"))
    assert read.status_code == 200 and "Siti Rahma" in read.text
    # The behaviour that makes it pay: concurrent creates share transactions.
    assert committer.stats.requests == 50
    assert committer.stats.batches < 50


def test_queued_creates_are_saved_in_one_transaction(pg_app: Complaints) -> None:
    committer = GroupCommitter(pg_app.save, paused=True)
    prepared = [pg_app.prepare_case(INTAKE, new_case()) for _ in range(10)]
    assert all(isinstance(p, PreparedCase) for p in prepared)
    futures = [committer.submit(p.aggregates) for p in prepared]  # type: ignore[union-attr]
    committer.start()
    results = [
        pg_app.case_filed(p, f.result(timeout=30))  # type: ignore[arg-type]
        for p, f in zip(prepared, futures, strict=True)
    ]
    committer.stop()
    assert committer.stats.batches == 1 and committer.stats.requests == 10
    positions = [r.position for r in results]
    assert positions == sorted(positions) and len(set(positions)) == 10
    for result in results:
        assert pg_app.repository.get(result.id).tracking_number == result.tracking_number


def test_a_duplicate_idempotency_key_in_one_batch_stores_one_case_and_answers_both_alike(
    pg_app: Complaints,
) -> None:
    committer = GroupCommitter(pg_app.save, paused=True)
    first = pg_app.prepare_case(INTAKE, new_case(), idempotency_key="k-1", fingerprint="f")
    assert isinstance(first, PreparedCase)
    # Another process holds its own in-flight claims: the same key can reach one batch twice.
    pg_app.release(first)
    second = pg_app.prepare_case(INTAKE, new_case(), idempotency_key="k-1", fingerprint="f")
    assert isinstance(second, PreparedCase)

    async def both() -> list[CommandResult]:
        filing = [
            asyncio.ensure_future(_file_together(pg_app, committer, p)) for p in (first, second)
        ]
        await asyncio.sleep(0)  # both are queued now
        committer.start()
        return list(await asyncio.gather(*filing))

    answers = asyncio.run(both())
    committer.stop()
    one, other = answers
    assert (one.id, one.position, one.tracking_number, one.version) == (
        other.id,
        other.position,
        other.tracking_number,
        other.version,
    )
    assert [str(n.originator_id) for n in received_events(pg_app)] == [str(one.id)]
    assert committer.stats.fallbacks == 1


class RepeatingRandomness:
    """Draws the same bytes for the first ``repeat`` calls, then random ones."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat

    def token_bytes(self, n: int) -> bytes:
        self.repeat -= 1
        return bytes(n) if self.repeat >= 0 else secrets.token_bytes(n)


def test_a_taken_tracking_number_in_a_batch_fails_only_that_create_which_draws_again(
    pg_app: Complaints,
) -> None:
    committer = GroupCommitter(pg_app.save, paused=True)
    pg_app.randomness = RepeatingRandomness(2)
    first = pg_app.prepare_case(INTAKE, new_case())
    second = pg_app.prepare_case(INTAKE, new_case())
    assert isinstance(first, PreparedCase) and isinstance(second, PreparedCase)
    assert first.case.tracking_number == second.case.tracking_number

    async def both() -> list[CommandResult]:
        filing = [
            asyncio.ensure_future(_file_together(pg_app, committer, p)) for p in (first, second)
        ]
        await asyncio.sleep(0)
        committer.start()
        return list(await asyncio.gather(*filing))

    one, other = asyncio.run(both())
    committer.stop()
    assert one.id != other.id and one.tracking_number != other.tracking_number
    assert {str(n.originator_id) for n in received_events(pg_app)} == {str(one.id), str(other.id)}
    assert committer.stats.fallbacks == 1


def test_a_full_queue_answers_503_and_stores_nothing_for_that_request(api: Api) -> None:
    committer = swap_committer(api, queue_size=1, queued_seconds=60, paused=True)
    waiting, answers = post_in_background(api, complaint_body(subject="queued"))
    wait_until(lambda: committer.waiting() == 1)

    refused = api.client.post(
        CREATE, json=complaint_body(subject="refused"), headers=api.headers("intake_officer")
    )
    committer.start()
    waiting.join()

    assert refused.status_code == 503
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.headers["Retry-After"] == "1"
    assert answers[0].status_code == 201
    stored = received_events(api.container.complaints)
    assert [str(n.originator_id) for n in stored] == [answers[0].json()["id"]]


def test_a_create_queued_too_long_answers_503_and_is_never_stored(api: Api) -> None:
    committer = swap_committer(api, queued_seconds=0.2, paused=True)
    answer = api.client.post(CREATE, json=complaint_body(), headers=api.headers("intake_officer"))
    committer.start()
    committer.stop()  # whatever was still queued has been handled when the writer stops

    assert answer.status_code == 503
    assert answer.json()["type"].endswith("store-busy")
    assert received_events(api.container.complaints) == []
    assert committer.stats.requests == 0


class WriterKilled(BaseException):
    """Not an Exception: nothing catches it, so the writer thread dies of it."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("failure", "status"), [(WriterKilled(), 503), (RuntimeError("disk on fire"), 500)]
)
def test_a_failing_batch_answers_problems_and_the_next_creates_succeed(
    api: Api, failure: BaseException, status: int
) -> None:
    complaints = api.container.complaints
    save = complaints.save
    failures = [failure]

    def save_failing_once(*objs: Any) -> list[Any]:
        if failures:
            raise failures.pop()
        return save(*objs)

    committer = swap_committer(api)
    committer._save = save_failing_once  # the writer's save, as a fault in the store would be
    writer = committer.writer
    headers = api.headers("intake_officer")

    failed = api.client.post(CREATE, json=complaint_body(), headers=headers)
    later = [api.client.post(CREATE, json=complaint_body(), headers=headers) for _ in range(3)]

    assert failed.status_code == status
    assert failed.headers["Content-Type"].startswith("application/problem+json")
    assert [a.status_code for a in later] == [201, 201, 201]
    stored = {str(n.originator_id) for n in received_events(complaints)}
    assert stored == {a.json()["id"] for a in later}
    if isinstance(failure, WriterKilled):
        assert committer.writer is not writer and committer.stats.restarts == 1


def test_a_create_the_writer_has_taken_waits_for_its_commit_past_the_queue_timeout(
    api: Api,
) -> None:
    complaints = api.container.complaints
    save, taken, release = complaints.save, threading.Event(), threading.Event()

    def slow_save(*objs: Any) -> list[Any]:
        taken.set()
        release.wait(30)
        return save(*objs)

    committer = swap_committer(api, queued_seconds=0.1)
    committer._save = slow_save
    waiting, answers = post_in_background(api, complaint_body())
    taken.wait(30)
    threading.Event().wait(0.5)  # well past the queue timeout, while the writer holds it
    release.set()
    waiting.join()

    assert answers[0].status_code == 201
    assert [str(n.originator_id) for n in received_events(complaints)] == [answers[0].json()["id"]]


def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and labels."""
    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_a_create_moves_the_group_commit_metrics(api: Api) -> None:
    before = scrape(api)
    answer = api.client.post(CREATE, json=complaint_body(), headers=api.headers("intake_officer"))
    assert answer.status_code == 201
    after = scrape(api)

    for name in (
        "aduan_group_commit_batch_size_count",
        "aduan_group_commit_queue_wait_seconds_count",
        "aduan_group_commit_commit_seconds_count",
    ):
        assert after[(name, ())] == before.get((name, ()), 0) + 1, name
    batch_sum = ("aduan_group_commit_batch_size_sum", ())
    assert after[batch_sum] == before.get(batch_sum, 0) + 1  # a batch of one create
    assert after[("aduan_group_commit_queued", ())] == 0
    assert after[("aduan_db_breaker_state", (("state", "closed"),))] == 1
    assert after[("aduan_db_breaker_state", (("state", "open"),))] == 0
    assert after[("aduan_db_breaker_rejected_total", ())] == 0


def test_creates_turned_away_by_back_pressure_are_counted(api: Api) -> None:
    committer = swap_committer(api, queue_size=1, queued_seconds=60, paused=True)
    waiting, answers = post_in_background(api, complaint_body(subject="queued"))
    wait_until(lambda: committer.waiting() == 1)
    refused = api.client.post(CREATE, json=complaint_body(), headers=api.headers("intake_officer"))
    committer.start()
    waiting.join()

    assert refused.status_code == 503 and answers[0].status_code == 201
    rejected = ("aduan_group_commit_rejected_total", (("reason", "queue_full"),))
    assert scrape(api)[rejected] == 1
    assert committer.stats.rejected == 1


def test_a_batch_stores_its_data_keys_in_the_transaction_of_its_events(api: Api) -> None:
    """On PostgreSQL the writer hands the keys to the event store's recorder: a key is stored
    exactly when the events naming it are, never alone."""
    complaints = api.container.complaints
    keys = complaints.personal_data.keys
    first = complaints.prepare_case(INTAKE, new_case(), store_key=False)
    clash = complaints.prepare_case(INTAKE, new_case(), store_key=False)
    assert isinstance(first, PreparedCase) and isinstance(clash, PreparedCase)
    assert first.key is not None and clash.key is not None
    committer = committer_of(api)

    stored = committer.submit(first.aggregates, (first.key,)).result(timeout=30)
    assert len(stored) == 2
    assert keys.get(first.key.key_id) == first.key.wrapped

    # The second case claims the first one's tracking number: its events clash, so its key,
    # which came in the same transaction, is not stored either.
    index = TrackingNumberIndex.assign(
        first.case.tracking_number, clash.case.id, complaints.clock.now()
    )
    with pytest.raises(IntegrityError):
        committer.submit((clash.case, index), (clash.key,)).result(timeout=30)
    complaints.release(first)
    complaints.release(clash)
    assert keys.get(clash.key.key_id) is None
    assert [str(n.originator_id) for n in received_events(complaints)] == [str(first.case.id)]
