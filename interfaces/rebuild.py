"""Rebuilding a read model into a new generation and switching queries over to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from interfaces.bootstrap import Container
from projections.runner import Binding, Runner


@dataclass(frozen=True)
class RebuildStats:
    events: int
    seconds: float
    generation: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def rebuild(
    container: Container, name: str, progress: Callable[[int], None] | None = None
) -> RebuildStats:
    """Build ``name`` from the whole log beside the live build, then make it live."""
    view = container.catalog.start_rebuild(name)
    runner = Runner(
        container.event_log(),
        [Binding(container.projections[name], view)],
        batch_size=container.settings.projection_batch_size,
        metrics=container.metrics,
    )
    started = time.perf_counter()
    events = 0
    while True:
        events += runner.catch_up(progress)
        if view.position() >= container.event_log().head():
            break
    container.catalog.promote(view)
    return RebuildStats(events, time.perf_counter() - started, view.generation)
