"""The whole service on a loopback port (uvicorn in a thread), for tests that need real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_over_http(settings: Settings) -> Iterator[tuple[str, Container]]:
    """API and background work, as `aduan serve` runs them; yields the base URL and container."""
    container = bootstrap(settings)
    container.start_background()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(container.http_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", container
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()
