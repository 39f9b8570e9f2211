"""Helpers the benchmark scripts share: throwaway databases, server processes, tokens, load.

Benchmarks run as scripts (``python bench/x.py``), so ``bench/`` is first on ``sys.path`` and
this module imports as ``_common``. It imports nothing of aduan at module level: ``bench/``
holds a script named ``projections.py`` that would shadow aduan's ``projections`` package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
BENCH_DIR = Path(__file__).resolve().parent
EVENTS_TABLE = "aduan_events"
# Only databases with these prefixes are ever dropped by a benchmark.
THROWAWAY_PREFIXES = ("aduan_bench_", "aduan_load_")


def aduan_app() -> FastAPI:
    """aduan as `aduan serve --api-only` builds it, from the ADUAN_* environment (a uvicorn
    factory: ``--app-dir bench --factory _common:aduan_app``)."""
    # uvicorn's --app-dir put bench/ first on sys.path, where bench/projections.py (a script)
    # would shadow aduan's projections package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
    from interfaces.bootstrap import bootstrap

    return bootstrap().http_app()


@dataclass
class Server:
    """A process the benchmark started, with its log; ``ready_path`` None: not an HTTP server."""

    name: str
    port: int
    ready_path: str | None
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}"
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready_path is None:
                return
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s; closes the log."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    name: str, command: Sequence[str], env: dict[str, str], workdir: Path, port: int = 0,
    ready_path: str | None = None,
) -> Server:  # fmt: skip
    """Start ``command`` in a session of its own (so that stop() reaches its children)."""
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(command), cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return Server(name, port, ready_path, process, log_path, log)


def start_uvicorn(
    name: str, target: str, ready_path: str, env: dict[str, str], workdir: Path
) -> Server:
    """One uvicorn worker serving ``target`` (``module:factory`` in bench/) on a free port."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH_DIR), target,
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return start_process(name, command, env, workdir, port, ready_path)


def admin_execute(statement: Any) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def create_database(name: str) -> None:
    from psycopg import sql

    assert name.startswith(THROWAWAY_PREFIXES), name
    admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    from psycopg import sql

    assert name.startswith(THROWAWAY_PREFIXES), name
    admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def execute(database_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement)


def scalar(database_url: str, query: str) -> Any:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return None if row is None else row[0]


def aduan_executable() -> str:
    aduan = Path(sys.executable).with_name("aduan")
    executable = str(aduan) if aduan.exists() else shutil.which("aduan")
    if executable is None:
        raise RuntimeError("the `aduan` command is not installed; run `make install` first")
    return executable


def issue_token(
    env: dict[str, str],
    workdir: Path,
    sub: str = "bench",
    roles: Sequence[str] = ("intake_officer",),
    units: Sequence[str] = ("ULPK-PUSAT",),
    ttl_hours: float = 2,
) -> str:
    """``aduan token`` in the service's environment (its first run creates the tables too)."""
    command = [aduan_executable(), "token", "--sub", sub]
    for role in roles:
        command += ["--role", role]
    for unit in units:
        command += ["--unit", unit]
    command += ["--ttl-hours", str(ttl_hours)]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`aduan token` failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1].strip()


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return "unknown"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
