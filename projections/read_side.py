"""What the query side asks of the read models: the live view, and read-your-writes waits."""

from __future__ import annotations

import time
from typing import Any, Protocol


class ReadSide(Protocol):
    def view(self, name: str) -> Any:
        """The live view of read model ``name``."""
        ...

    def names(self) -> list[str]: ...


def wait_for(read_side: ReadSide, name: str, position: int, timeout: float) -> bool:
    """Whether read model ``name`` reached ``position`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if read_side.view(name).position() >= position:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def storable_text(text: str) -> str:
    """Free text as a read model may store it: without NUL characters, which PostgreSQL text
    cannot hold (one in a subject would otherwise stop every read model at that event). The
    event keeps the text as it came."""
    return text.replace("\x00", "")
