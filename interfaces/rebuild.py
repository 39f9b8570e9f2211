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
    return rebuild_together(container, [name], progress)


def rebuild_together(
    container: Container, names: list[str], progress: Callable[[int], None] | None = None
) -> RebuildStats:
    """Build several read models in one pass over the log (read and decoded once), each beside
    its live build, then make each live. ``events`` counts the log's events, once."""
    views = [container.catalog.start_rebuild(name) for name in names]
    runner = Runner(
        container.event_log(),
        [Binding(container.projections[n], v) for n, v in zip(names, views, strict=True)],
        batch_size=container.settings.projection_batch_size,
        metrics=container.metrics,
        catch_up_batch_size=container.settings.projection_catch_up_batch_size,
    )
    started = time.perf_counter()
    while True:
        runner.catch_up(progress)
        head = container.event_log().head()
        if all(view.position() >= head for view in views):
            break
    for view in views:
        container.catalog.promote(view)
    return RebuildStats(
        min(view.position() for view in views),
        time.perf_counter() - started,
        max(view.generation for view in views),
    )
