"""Background work of a process: read-model workers and periodic jobs, each a single instance."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from infrastructure.read_models import Catalog, SqlView
from projections.runner import Binding, EventLog, Metrics, Projection, Runner, Ticker

log = logging.getLogger("aduan.work")


class Locks(Protocol):
    def try_acquire(self, name: str) -> bool: ...

    def holds(self, name: str) -> bool: ...

    def release_all(self) -> None: ...


class ReadModelWorker:
    """Keeps the read models this process holds the lock of at the head of the log."""

    def __init__(
        self,
        catalog: Catalog,
        projections: dict[str, Projection[Any]],
        event_log: EventLog,
        locks: Locks,
        ticker: Ticker,
        metrics: Metrics,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 2000,
        on_commit: Callable[[str, Any, int], None] | None = None,
        catch_up_batch_size: int | None = None,
    ) -> None:
        self.on_commit = on_commit
        self.catch_up_batch_size = catch_up_batch_size
        self.catalog = catalog
        self.projections = projections
        self.log = event_log
        self.locks = locks
        self.ticker = ticker
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bindings: dict[str, Binding[Any]] = {}
        self._live: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="aduan-read-models", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.ticker.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def held(self) -> list[str]:
        return sorted(self._bindings)

    def step(self) -> int:
        """Take the locks it can, run every held read model to the head, switch over builds."""
        for name in list(self._bindings):
            if not self.locks.holds(f"projection:{name}"):  # its lock connection was lost
                del self._bindings[name]
                self._live.discard(name)
        taken_locks = False
        for name, projection in self.projections.items():
            if name not in self._bindings and self.locks.try_acquire(f"projection:{name}"):
                self._bindings[name] = Binding(projection, self.catalog.target(name))
                taken_locks = True
        runner = Runner(
            self.log,
            list(self._bindings.values()),
            self.batch_size,
            self.metrics,
            self.on_commit,
            self.catch_up_batch_size,
        )
        if taken_locks:  # a newly held read model shows in the metrics from its first step
            runner.report()
        taken = 0
        while not self._stop.is_set():
            step = runner.step()
            taken += step
            # No whole batch: every view read to the end of the log as it was. What commits
            # later notifies, and the wait below returns at once (no empty step to find out).
            if not step or not runner.behind:
                break
        head = self.log.head()
        runner.report(head)
        for name, binding in self._bindings.items():
            view: SqlView = binding.view
            if name not in self._live and view.position() >= head:
                if not self.catalog.is_live(view):
                    self.catalog.promote(view)
                self._live.add(name)
        return taken

    def _loop(self) -> None:
        backoff = self.poll_seconds
        while not self._stop.is_set():
            try:
                self.step()
                backoff = self.poll_seconds
            except Exception as error:  # the worker must outlive a database outage
                log.warning("read-model worker failed, retrying: %s", error)
                self._bindings.clear()
                self._live.clear()
                self.locks.release_all()
                backoff = min(backoff * 2, 30.0)
                self._stop.wait(backoff)
                continue
            self.ticker.wait(self.poll_seconds)


@dataclass
class PeriodicJob:
    """A job run every ``interval`` seconds by the process that holds its lock."""

    name: str
    interval: float
    run: Callable[[], Any]


class PeriodicJobs:
    def __init__(self, jobs: list[PeriodicJob], locks: Locks) -> None:
        self.jobs = jobs
        self.locks = locks
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"aduan-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self, job: PeriodicJob) -> None:
        while not self._stop.is_set():
            try:
                if self.locks.try_acquire(f"job:{job.name}"):
                    job.run()
            except Exception as error:
                log.warning("%s failed, retrying: %s", job.name, error)
            self._stop.wait(job.interval)
