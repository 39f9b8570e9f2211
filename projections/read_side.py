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
