"""Fault tests: the service in processes of its own, killed and restarted on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap

CLI = (sys.executable, "-c", "from interfaces.cli import main; main()")
SECRET = "fault-test-secret-" + "f" * 32


def service_env(postgres_url: str, schema: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a subprocess of the service reads its settings from."""
    return os.environ | {
        "ADUAN_DATABASE_URL": postgres_url,
        "ADUAN_POSTGRES_SCHEMA": schema,
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(var_dir),
        "ADUAN_POSTGRES_POOL_SIZE": "4",
        **extra,
    }


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`aduan serve --api-only` in a process of its own; returns once it answers /healthz."""
    process = subprocess.Popen(
        [*CLI, "serve", "--api-only", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the API exited with status {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the API did not come up within 30 s")


@pytest.fixture
def container(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Container]:
    """The service in the test's own process, on the test's schema (it creates the tables)."""
    built = bootstrap(
        Settings(
            database_url=postgres_url,
            postgres_schema=postgres_schema,
            jwt_secret=SECRET,
            var_dir=tmp_path,
            postgres_pool_size=2,
            rate_limit_per_minute=0,
        )
    )
    yield built
    built.close()
