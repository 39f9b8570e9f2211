"""Rebuilding a read model into a new generation and switching queries over to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from interfaces.bootstrap import Container
from projections.runner import Binding, Runner, few_collections


@dataclass(frozen=True)
class RebuildStats:
    events: int
    seconds: float
    generation: int
    resumed_from: int = 0  # the position the slowest build started from (0: from the start)

    @property
    def rate(self) -> float:
        """Events taken in per second in this run (a resumed build counts only its part)."""
        done = self.events - self.resumed_from
        return done / self.seconds if self.seconds else 0.0


def rebuild(
    container: Container,
    name: str,
    progress: Callable[[int], None] | None = None,
    *,
    resume: bool = False,
) -> RebuildStats:
    """Build ``name`` from the whole log beside the live build, then make it live."""
    return rebuild_together(container, [name], progress, resume=resume)


def rebuild_together(
    container: Container,
    names: list[str],
    progress: Callable[[int], None] | None = None,
    *,
    resume: bool = False,
) -> RebuildStats:
    """Build several read models in one pass over the log (read and decoded once), each beside
    its live build, then make each live. ``events`` counts the log's events, once.

    With ``resume``, a build left unfinished (the process killed mid-way) is carried on from its
    committed position rather than started again from the first event.
    """
    views = [container.catalog.start_rebuild(name, resume=resume) for name in names]
    resumed_from = min(view.position() for view in views) if views else 0
    runner = Runner(
        container.event_log(),
        [Binding(container.projections[n], v) for n, v in zip(names, views, strict=True)],
        batch_size=container.settings.projection_batch_size,
        metrics=container.metrics,
        catch_up_batch_size=container.settings.projection_catch_up_batch_size,
    )
    started = time.perf_counter()
    with few_collections():
        indexed = False
        while True:
            runner.catch_up(progress)
            head = container.event_log().head()
            if all(view.position() >= head for view in views):
                if indexed:
                    break
                # Built without secondary indexes: build them once over all the rows, then
                # catch up what was logged meanwhile (a few rows, indexed as they come).
                for view in views:
                    container.catalog.index(view)
                indexed = True
    for view in views:
        container.catalog.promote(view)  # indexed already; promote makes sure of it
    return RebuildStats(
        min(view.position() for view in views),
        time.perf_counter() - started,
        max(view.generation for view in views),
        resumed_from,
    )
