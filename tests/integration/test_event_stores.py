"""The application on the real stores: PostgreSQL (a fresh database) and SQLite files."""

from __future__ import annotations

import threading

import pytest

from application.errors import VersionConflict
from domain.values import Actor
from domain.vocabulary import Status
from tests.support import AUDITOR, INTAKE, build_complaints, new_case

STORES = ["sqlite_env", "postgres_env"]
OFFICER = Actor("siti", "ULPK-PUSAT")


@pytest.fixture(params=STORES)
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return request.getfixturevalue(request.param)


def test_cases_survive_a_restart_of_the_application(store_env, clock) -> None:
    first = build_complaints(store_env, clock)
    created = first.file_case(INTAKE, new_case())
    first.acknowledge(INTAKE, created.id, 1, message="diterima")
    first.close()
    second = build_complaints(store_env, clock)
    try:
        snapshot = second.case(AUDITOR, created.id)
        assert snapshot.case.status == Status.ACKNOWLEDGED
        assert second.case_id_for_tracking_number(INTAKE, created.tracking_number) == created.id
    finally:
        second.close()


def test_two_processes_writing_the_same_version_exactly_one_wins(store_env, clock) -> None:
    writer_a = build_complaints(store_env, clock)
    writer_b = build_complaints(store_env, clock)
    try:
        created = writer_a.file_case(INTAKE, new_case())
        case_a = writer_a.repository.get(created.id)
        case_b = writer_b.repository.get(created.id)
        case_a.acknowledge(message="a", actor=OFFICER, at=clock.now())
        case_b.acknowledge(message="b", actor=OFFICER, at=clock.now())
        writer_a._save(case_a, 1)
        with pytest.raises(VersionConflict):
            writer_b._save(case_b, 1)
        history = writer_b.history(AUDITOR, created.id)
        assert [e.type for e in history] == ["Received", "Acknowledged"]
        assert history[1].data["message"] == "a"
    finally:
        writer_a.close()
        writer_b.close()


def test_concurrent_commands_on_one_version_store_one_event(store_env, clock) -> None:
    apps = [build_complaints(store_env, clock) for _ in range(4)]
    try:
        created = apps[0].file_case(INTAKE, new_case())
        outcomes: list[str] = []
        barrier = threading.Barrier(len(apps))

        def acknowledge(app) -> None:
            barrier.wait()
            try:
                app.acknowledge(INTAKE, created.id, 1, message="m")
                outcomes.append("won")
            except VersionConflict:
                outcomes.append("lost")

        threads = [threading.Thread(target=acknowledge, args=(a,)) for a in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
        assert apps[0].case(AUDITOR, created.id).case.version == 2
    finally:
        for app in apps:
            app.close()


def test_a_retried_create_from_another_process_returns_the_first_case(store_env, clock) -> None:
    one = build_complaints(store_env, clock)
    other = build_complaints(store_env, clock)
    try:
        first = one.file_case(INTAKE, new_case(), idempotency_key="retry-1", fingerprint="f")
        again = other.file_case(INTAKE, new_case(), idempotency_key="retry-1", fingerprint="f")
        assert (again.id, again.position, again.tracking_number) == (
            first.id,
            first.position,
            first.tracking_number,
        )
        positions = other.positions.positions(first.id)
        assert positions == {1: first.position}
    finally:
        one.close()
        other.close()
