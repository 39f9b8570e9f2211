"""An HTTP client against the whole service, bootstrapped as `aduan serve` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from tests.support import MONDAY

SECRET = "test-secret-" + "x" * 32


@dataclass
class Api:
    client: TestClient
    container: Container
    clock: ManualClock

    def token(self, *roles: str, units: tuple[str, ...] = ("ULPK-PUSAT",), sub: str = "siti"):
        return self.container.tokens.issue(sub, roles, units)

    def headers(
        self,
        *roles: str,
        units: tuple[str, ...] = ("ULPK-PUSAT",),
        sub: str = "siti",
        version: int | None = None,
    ) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(*roles, units=units, sub=sub)}"}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return headers

    def stored_events(self) -> int:
        return self.container.complaints.recorder.max_notification_id() or 0


def _api(settings: Settings) -> Iterator[Api]:
    clock = ManualClock(MONDAY)
    container = bootstrap(settings, clock=clock)
    container.start_background()
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            yield Api(client, container, clock)
    finally:
        container.close()


@pytest.fixture
def api(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The service on PostgreSQL."""
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
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The service on its embedded default, a SQLite file."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        jwt_secret=SECRET,
        var_dir=tmp_path,
        projection_poll_seconds=0.2,
    )
    yield from _api(settings)
