"""The audit trail of the whole service on PostgreSQL and SQLite: tampering with the stores.

Each test changes the event store or the trail behind the service's back, with plain SQL, as
someone with database access could, and expects the verifier to name the first bad entry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.audit_cli import catch_up_trail
from interfaces.bootstrap import Container, bootstrap
from interfaces.cli import cli
from projections.audit.verify import Verification, verify_chain, verify_trail, verify_view
from projections.audit.view import AuditView, all_entries
from tests.support import INTAKE, MONDAY, new_case

SECRET = "audit-test-secret-" + "y" * 32


@dataclass
class Service:
    """The service as bootstrap builds it, plus raw SQL access to its event store and trail."""

    kind: str
    settings: Settings
    env: dict[str, str]
    tmp_path: Path
    clock: ManualClock = field(default_factory=lambda: ManualClock(MONDAY))
    container: Container | None = None
    placeholder: int | None = None

    def open(self) -> Container:
        self.container = bootstrap(self.settings, clock=self.clock)
        return self.container

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    @property
    def app(self) -> Any:
        assert self.container is not None
        return self.container.complaints

    def file_cases(self, count: int) -> None:
        for _ in range(count):
            created = self.app.file_case(INTAKE, new_case())
            self.clock.advance(timedelta(minutes=3))
            self.app.acknowledge(INTAKE, created.id, 1, message="diterima")
            self.clock.advance(timedelta(minutes=3))

    def chain(self) -> AuditView:
        assert self.container is not None
        return catch_up_trail(self.container)

    def verify(self) -> Verification:
        assert self.container is not None
        return verify_view(self.chain(), self.container.event_log(), batch_size=4)

    # --- raw access ------------------------------------------------------------------------

    @property
    def events(self) -> str:
        return "aduan_events" if self.kind == "postgres" else "stored_events"

    @property
    def pos(self) -> str:
        return "notification_id" if self.kind == "postgres" else "rowid"

    def store_sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self._run(statement, params, self.db)

    def trail_sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        self._run(statement, params, self.tmp_path / "aduan-read.db")

    def _run(self, statement: str, params: tuple[Any, ...], sqlite_file: Path) -> list[Any]:
        if self.kind == "postgres":
            options = f"-c search_path={self.settings.postgres_schema}"
            with psycopg.connect(self.settings.database_url, options=options) as conn:
                cursor = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(sqlite_file) as conn:
            rows = conn.execute(statement, params).fetchall()
        conn.close()
        return rows

    def alter_event(self, position: int) -> None:
        """Change one stored event's state bytes (its recorded year) in place."""
        where = f"WHERE {self.pos} = ?"
        [(state,)] = self._run(f"SELECT state FROM {self.events} {where}", (position,), self.db)
        changed = bytes(state).replace(b"2026", b"2025")
        self.store_sql(f"UPDATE {self.events} SET state = ? {where}", (changed, position))

    @property
    def db(self) -> Path:
        return self.tmp_path / "aduan.db"

    @contextmanager
    def gap(self) -> Iterator[int]:
        """Leave one position unused, as a rolled-back transaction does; yields it."""
        if self.kind == "postgres":
            position = self.app.recorder.max_notification_id() + 1
            self.store_sql(
                "SELECT setval(pg_get_serial_sequence('aduan_events', 'notification_id'), ?)",
                (position,),
            )
            yield position
            return
        position = self.app.recorder.max_notification_id() + 1
        self.store_sql(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, 'placeholder', 0, 'placeholder', x'')",
            (position,),
        )
        yield position
        self.store_sql("DELETE FROM stored_events WHERE rowid = ?", (position,))

    def forge_at(self, position: int, like: int) -> None:
        """A forged copy of the event at ``like``, under a new case id, at ``position``."""
        if self.kind == "postgres":
            self.store_sql(
                "INSERT INTO aduan_events (originator_id, originator_version, topic, state, "
                "notification_id) SELECT gen_random_uuid(), originator_version, topic, state, ? "
                "FROM aduan_events WHERE notification_id = ?",
                (position, like),
            )
        else:
            self.store_sql(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, "
                "state) SELECT ?, lower(hex(randomblob(16))), originator_version, topic, state "
                "FROM stored_events WHERE rowid = ?",
                (position, like),
            )

    def swap(self, a: int, b: int) -> None:
        for old, new in ((a, -1), (b, a), (-1, b)):
            self.store_sql(
                f"UPDATE {self.events} SET {self.pos} = ? WHERE {self.pos} = ?", (new, old)
            )


@pytest.fixture(params=["postgres", "sqlite"])
def service(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> Iterator[Service]:
    env = {"ADUAN_JWT_SECRET": SECRET, "ADUAN_VAR_DIR": str(tmp_path)}
    if request.param == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        env |= {
            "ADUAN_DATABASE_URL": request.getfixturevalue("postgres_url"),
            "ADUAN_POSTGRES_SCHEMA": schema,
            "ADUAN_POSTGRES_POOL_SIZE": "2",
        }
    else:
        env["ADUAN_DATABASE_URL"] = f"sqlite:///{tmp_path}/aduan.db"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    service = Service(request.param, Settings(), env, tmp_path)
    service.open()
    yield service
    service.close()


def test_the_chain_builds_in_log_order_and_continues_after_a_restart(service) -> None:
    service.file_cases(3)
    first = service.chain()
    assert [e.seq for e in all_entries(first)] == list(range(1, 10))
    service.close()
    service.open()
    service.file_cases(2)
    again = service.chain()
    entries = list(all_entries(again))
    assert [e.seq for e in entries] == list(range(1, 16))
    assert [e.position for e in entries] == list(range(1, 16))
    assert again.position() == 15
    result = service.verify()
    assert result.ok and result.entries == 15 and result.head == entries[-1].hash


def test_a_stored_event_changed_in_the_event_store_is_found_at_its_seq(service) -> None:
    service.file_cases(3)
    service.chain()
    service.alter_event(5)
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 5 and "altered" in (result.reason or "")


def test_a_stored_event_deleted_from_the_event_store_is_found_at_its_seq(service) -> None:
    service.file_cases(3)
    service.chain()
    service.store_sql(f"DELETE FROM {service.events} WHERE {service.pos} = 4")
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 4 and "removed" in (result.reason or "")


def test_a_forged_event_inserted_into_the_event_store_is_found_at_its_seq(service) -> None:
    service.file_cases(2)
    with service.gap() as gap:
        service.file_cases(2)
    assert gap == 7
    service.chain()
    assert service.verify().ok
    service.forge_at(gap, like=1)
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 7 and "inserted" in (result.reason or "")


def test_two_swapped_stored_events_are_found_at_the_first_of_them(service) -> None:
    service.file_cases(3)
    service.chain()
    service.swap(3, 8)
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 3


def test_a_changed_row_of_the_trail_is_found_at_its_seq(service) -> None:
    service.file_cases(3)
    service.chain()
    service.trail_sql("UPDATE aduan_audit_chain SET actor_sub = 'mallory' WHERE seq = 6")
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 6 and "actor" in (result.reason or "")


def test_a_row_deleted_from_the_trail_is_found_at_its_seq(service) -> None:
    service.file_cases(3)
    service.chain()
    service.trail_sql("DELETE FROM aduan_audit_chain WHERE seq = 2")
    result = service.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_a_checkpoint_catches_a_consistent_rewrite_of_store_and_trail(service) -> None:
    service.file_cases(3)
    view = service.chain()
    container = service.container
    assert container is not None and container.audit_signer is not None
    head = view.head()
    assert head is not None
    checkpoint = container.audit_signer.sign(head, service.clock.now())
    trusted = container.audit_signer.public_key
    # Rewrite history from seq 5 on in the store, then rebuild the trail to match it.
    service.alter_event(5)
    service.trail_sql("DELETE FROM aduan_audit_chain WHERE seq >= 5")
    assert service.verify().ok  # consistent: the chain alone cannot tell
    result = verify_trail(
        all_entries(service.chain()),
        container.event_log(),
        checkpoint=checkpoint,
        trusted_key=trusted,
    )
    assert not result.ok and result.first_bad_seq == head.seq
    assert "checkpoint" in (result.reason or "")


def test_the_cli_exports_verifies_the_export_and_checks_a_signed_checkpoint(
    service, tmp_path
) -> None:
    service.file_cases(3)
    service.close()  # the CLI bootstraps its own service from the environment
    runner = CliRunner()
    export, checkpoint = tmp_path / "audit.jsonl", tmp_path / "checkpoint.json"
    done = runner.invoke(cli, ["audit", "export", "--out", str(export)])
    assert done.exit_code == 0, done.output
    lines = export.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 10))
    done = runner.invoke(cli, ["audit", "checkpoint", "--out", str(checkpoint)])
    assert done.exit_code == 0, done.output
    signed = json.loads(checkpoint.read_text())
    assert signed["seq"] == 9 and signed["head"] == json.loads(lines[-1])["hash"]
    assert set(signed) == {"seq", "head", "position", "signed_at", "public_key", "signature"}
    for arguments in (
        ["audit", "verify"],
        ["audit", "verify", "--file", str(export)],
        ["audit", "verify", "--checkpoint", str(checkpoint)],
        ["audit", "verify", "--file", str(export), "--checkpoint", str(checkpoint)],
    ):
        done = runner.invoke(cli, arguments)
        assert done.exit_code == 0, (arguments, done.output)
        assert json.loads(done.stdout.splitlines()[0])["ok"] is True

    edited = json.loads(lines[3])
    edited["type"] = "Closed"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join([*lines[:3], json.dumps(edited), *lines[4:]]) + "\n")
    done = runner.invoke(cli, ["audit", "verify", "--file", str(tampered)])
    assert done.exit_code == 1
    assert json.loads(done.stdout.splitlines()[0])["seq"] == 4

    service.open()
    service.alter_event(2)
    done = runner.invoke(cli, ["audit", "verify", "--file", str(export)])
    assert done.exit_code == 1
    assert json.loads(done.stdout.splitlines()[0])["seq"] == 2


TAMPERINGS: dict[str, Any] = {
    "untouched": lambda s: None,
    "event altered": lambda s: s.alter_event(5),
    "event deleted": lambda s: s.store_sql(f"DELETE FROM {s.events} WHERE {s.pos} = 4"),
    "events swapped": lambda s: s.swap(3, 8),
    "actor changed": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET actor_sub = 'mallory' WHERE seq = 6"
    ),
    "unit emptied": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET actor_unit = NULL WHERE seq = 7"
    ),
    "time moved": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET recorded_at = '2020-01-06 01:02:03+00:00' WHERE seq = 3"
    ),
    "case changed": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET complaint_id = originator_id WHERE seq = 2"
    ),
    "type changed": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET type = 'Closed' WHERE seq = 4"
    ),
    "version changed": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET version = version + 1 WHERE seq = 5"
    ),
    "event hash in capitals": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET event_hash = upper(event_hash) WHERE seq = 5"
    ),
    "hash changed": lambda s: s.trail_sql(
        "UPDATE aduan_audit_chain SET hash = prev_hash WHERE seq = 8"
    ),
    "row deleted": lambda s: s.trail_sql("DELETE FROM aduan_audit_chain WHERE seq = 2"),
    "last rows deleted": lambda s: s.trail_sql("DELETE FROM aduan_audit_chain WHERE seq > 7"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_the_fast_verifier_on_postgresql_answers_as_the_reference_one(
    service, tampering: str
) -> None:
    """verify_view reads tuples on PostgreSQL (verify_tuples); verify_chain over AuditEntry
    objects is the reference: every tampering gets the same result from both."""
    service.file_cases(4)
    view = service.chain()
    TAMPERINGS[tampering](service)
    log = service.container.event_log()
    fast_path = getattr(view, "entry_tuples", lambda *_: None)(0, 1) is not None
    assert fast_path == (service.kind == "postgres")
    for batch_size in (3, 5000):
        reference = verify_chain(all_entries(view, batch_size), log, batch_size)
        assert verify_view(view, log, batch_size) == reference
        assert reference.ok == (tampering == "untouched" or tampering == "last rows deleted")
