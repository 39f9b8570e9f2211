"""Running read models: read the log in batches, apply them, commit rows and position together.

A projection turns a batch of logged events into changes; its view writes those changes and the
position of the batch's last event in one transaction. The position advances past events the
projection ignores, so waiting for any position never hangs, and a crash at any point resumes
after the last committed batch with no duplicate and no gap.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

log = logging.getLogger("aduan.projections")

V = TypeVar("V", bound="View")
C = TypeVar("C")


class LoggedEvent:
    """One event of the application's log: its position, stored bytes and (lazily) the event."""

    __slots__ = (
        "_decode",
        "_event",
        "originator_id",
        "originator_version",
        "position",
        "state",
        "topic",
    )

    def __init__(
        self,
        position: int,
        originator_id: UUID,
        originator_version: int,
        topic: str,
        state: bytes,
        decode: Callable[[], Any],
    ) -> None:
        self.position = position
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state
        self._decode = decode
        self._event: Any = None

    @property
    def event(self) -> Any:
        """The domain event, decoded once however many projections read it."""
        if self._event is None:
            self._event = self._decode()
        return self._event

    @property
    def decoded(self) -> Any:
        """The domain event if a projection has decoded it already, else None."""
        return self._event


class Batch(list[LoggedEvent]):
    """The events one projection takes in from a batch, with a memo for work other projections
    at the same position would repeat on the very same events (replaying a case, its stages)."""

    def __init__(self, events: list[LoggedEvent]) -> None:
        super().__init__(events)
        self.memo: dict[Any, Any] = {}


def memo_of(events: Sequence[LoggedEvent]) -> dict[Any, Any] | None:
    return events.memo if isinstance(events, Batch) else None


class EventLog(Protocol):
    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Events with a position greater than ``after``, oldest first, at most ``limit``."""
        ...

    def head(self) -> int:
        """The position of the newest event (0 when the log is empty)."""
        ...


class View(Protocol):
    def position(self) -> int:
        """The position of the last event this view has taken in (0 before any)."""
        ...

    def commit(self, changes: Any, position: int) -> None:
        """Write ``changes`` and the new position in one transaction."""
        ...


class Projection(Protocol[V]):
    name: str
    version: int

    def wants(self, topic: str) -> bool:
        """Whether events of this topic change the read model (others only move the position)."""
        ...

    def process(self, events: Sequence[LoggedEvent], view: V) -> Any:
        """The changes a batch of wanted events makes to the view (read from it, never written)."""
        ...


@dataclass
class Binding(Generic[V]):
    """A projection and the view it writes, as one worker runs them."""

    projection: Projection[V]
    view: V
    processed: int = 0

    @property
    def name(self) -> str:
        return self.projection.name


class Metrics(Protocol):
    def processed(self, name: str, events: int) -> None: ...

    def position(self, name: str, position: int, head: int) -> None: ...


class NoMetrics:
    def processed(self, name: str, events: int) -> None:
        pass

    def position(self, name: str, position: int, head: int) -> None:
        pass


class Wakeup(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until new events may be there, or ``timeout`` seconds; True when woken."""
        ...


@dataclass
class Runner:
    """Brings each bound view up to the head of the log, batch by batch."""

    log: EventLog
    bindings: list[Binding[Any]]
    batch_size: int = 2000
    metrics: Metrics = field(default_factory=NoMetrics)
    on_commit: Callable[[str, Any, int], None] | None = None
    # Far behind (a rebuild, a new version): bigger batches, so each case's events mostly fall
    # into one batch and its row is computed and written once for all of them.
    catch_up_batch_size: int | None = None
    _behind: bool = field(default=False, init=False, repr=False)

    @property
    def behind(self) -> bool:
        """Whether the last step filled a whole batch for some view (more may be waiting)."""
        return self._behind

    def step(self) -> int:
        """One batch for every view that is behind; returns how many events were taken in.

        Views at the same position share one read and one decoding of the batch. A view whose
        batch fails does not hold the others back: they take theirs, then the first error is
        raised (the caller retries the failed one later, with a back-off).
        """
        taken = 0
        failed: BaseException | None = None
        limit = self.batch_size
        if self._behind and self.catch_up_batch_size:
            limit = max(self.batch_size, self.catch_up_batch_size)
        self._behind = False
        batches: dict[int, list[LoggedEvent]] = {}
        shared: dict[tuple[int, ...], Batch] = {}
        for binding in self.bindings:
            after = binding.view.position()
            if after not in batches:
                batches[after] = self.log.read(after, limit)
                self._behind = self._behind or len(batches[after]) >= limit
            batch = batches[after]
            if not batch:
                continue
            chosen = [e for e in batch if binding.projection.wants(e.topic)]
            key = (after, *(e.position for e in chosen))
            wanted = shared.setdefault(key, Batch(chosen))
            try:
                changes = binding.projection.process(wanted, binding.view)
                binding.view.commit(changes, batch[-1].position)
            except Exception as error:
                log.warning("read model %s: batch after %s failed: %s", binding.name, after, error)
                failed = failed or error
                continue
            if self.on_commit is not None and wanted:
                self._tell(binding.name, changes, batch[-1].position)
            binding.processed += len(batch)
            self.metrics.processed(binding.name, len(batch))
            taken += len(batch)
        if failed is not None:
            raise failed
        return taken

    def _tell(self, name: str, changes: Any, position: int) -> None:
        """Fan committed changes out (live feeds); a failure there never stops the read model."""
        assert self.on_commit is not None
        try:
            self.on_commit(name, changes, position)
        except Exception as error:
            log.warning("could not announce %s changes at %s: %s", name, position, error)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Run batches until every view is at the head as it was when this started."""
        head = self.log.head()
        total = 0
        while any(b.view.position() < head for b in self.bindings):
            taken = self.step()
            if not taken:
                break
            total += taken
            if progress is not None:
                progress(min((b.view.position() for b in self.bindings), default=head))
        self.report(head)
        return total

    def report(self, head: int | None = None) -> None:
        head = self.log.head() if head is None else head
        for binding in self.bindings:
            self.metrics.position(binding.name, binding.view.position(), head)

    def run(
        self,
        stop: threading.Event,
        wakeup: Wakeup,
        *,
        poll_seconds: float = 1.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Keep the views at the head until ``stop`` is set.

        A notification only shortens the wait: the poll runs anyway, so a lost notification
        never stalls a view. An error (the database gone, say) is logged and retried.
        """
        backoff = poll_seconds
        while not stop.is_set():
            try:
                while self.step() and not stop.is_set():
                    pass
                self.report()
                backoff = poll_seconds
            except Exception as error:  # the loop must outlive a database outage
                log.warning("projection batch failed, retrying: %s", error)
                if on_error is not None:
                    on_error(error)
                backoff = min(backoff * 2, 30.0)
                stop.wait(backoff)
                continue
            wakeup.wait(poll_seconds)


class Ticker:
    """A wake-up that only waits: polling, for stores with no notifications."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken

    def wake(self, *_: Any) -> None:
        self._event.set()


@contextmanager
def few_collections(threshold: int = 50_000) -> Iterator[None]:
    """Rare cyclic garbage collections while a long catch-up runs in this process.

    A rebuild keeps a batch of decoded events and thousands of case states alive; with the
    default thresholds the collector walks them again and again (a quarter to a third of the
    rebuild's CPU). Their memory is freed by reference counting as before; only collections of
    reference cycles, which these objects do not form, come less often.
    """
    previous = gc.get_threshold()
    gc.set_threshold(threshold, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def run_to_head(runner: Runner, deadline_seconds: float = 30.0) -> None:
    """Catch up now, in this thread (tests and the CLI)."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_seconds:
        runner.catch_up()
        head = runner.log.head()
        if all(b.view.position() >= head for b in runner.bindings):
            return
    raise TimeoutError("the read models did not reach the head of the log")


def positions(bindings: Iterable[Binding[Any]]) -> dict[str, int]:
    return {b.name: b.view.position() for b in bindings}
