"""The whole service on PostgreSQL, once per fuzz module, and tokens for the fuzzing callers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql

from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from tests.e2e.conftest import SECRET
from tests.support import MONDAY


@dataclass
class Service:
    container: Container
    app: FastAPI

    def bearer(self, *roles: str, units: tuple[str, ...]) -> dict[str, str]:
        token = self.container.tokens.issue("fuzzer", roles, units)
        return {"Authorization": f"Bearer {token}"}

    def stored_events(self) -> int:
        return self.container.complaints.recorder.max_notification_id() or 0


@pytest.fixture(scope="module")
def service(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for a whole module: fuzzing re-bootstrapping per example would be too slow."""
    schema = f"fz_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    var_dir: Path = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=var_dir,
        postgres_pool_size=2,
        postgres_schema=schema,
        projection_poll_seconds=0.2,
        # A fuzzed `after_position` far beyond the log waits this long before its 504.
        read_wait_seconds=0.2,
        # Off, so that every fuzzed create reaches its body; the 429 has tests of its own.
        rate_limit_per_minute=0,
        # One messaging gateway channel, so that the fuzzing reaches its signature checks.
        inbound_secrets='{"whatsapp": "fuzz-gateway-secret-0123456789"}',
    )
    container = bootstrap(settings, clock=ManualClock(MONDAY))
    container.start_background()
    try:
        yield Service(container, container.http_app())
    finally:
        container.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
