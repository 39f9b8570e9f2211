"""The group-commit writer: one thread saving whatever creates are waiting in one transaction."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.committer import CommitterUnavailable
from application.privacy import NewKey

log = logging.getLogger("aduan.group_commit")

Save = Callable[..., list[Any]]
StoreKeys = Callable[[list[tuple[UUID, bytes, datetime]]], None]


@dataclass
class _Request:
    aggregates: tuple[Any, ...]
    keys: tuple[NewKey, ...]
    future: Future[list[Any]] = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)


class CommitObserver(Protocol):
    """Told what the writer does (the process's metrics)."""

    def committed(self, requests: int, seconds: float) -> None:
        """A batch of ``requests`` was stored; keys and events took ``seconds``."""

    def taken(self, waited: float) -> None:
        """The writer took a request that had waited ``waited`` seconds in the queue."""

    def rejected(self, reason: str) -> None:
        """A request was turned away: ``queue_full``, ``gave_up_queued`` (timed out or its
        client left while queued), or ``stopped``."""


@dataclass
class CommitStats:
    """What the writer has done: batches saved and requests in them (for metrics and tests)."""

    batches: int = 0
    requests: int = 0
    largest_batch: int = 0
    fallbacks: int = 0  # batches saved one request at a time after an IntegrityError
    restarts: int = 0  # writer threads replaced after dying
    rejected: int = 0  # turned away: queue full, given up while queued, or stopped


class GroupCommitter:
    """Takes what is queued (never waiting for more, at most ``max_batch``) and saves it at once.

    A supervisor restarts the writer thread when it dies; the requests of the batch it was
    saving then fail with CommitterUnavailable, and the queued ones are kept for the new thread.
    """

    def __init__(
        self,
        save: Save,
        *,
        store_keys: StoreKeys | None = None,
        queue_size: int = 1024,
        max_batch: int = 64,
        queued_seconds: float = 5.0,
        paused: bool = False,
        observer: CommitObserver | None = None,
        keys_with_events: bool = False,
    ) -> None:
        self._save = save
        self._observer = observer
        # True: ``save(*events, data_keys=[...])`` stores the keys in the events' transaction
        # (KeyedPostgresApplicationRecorder); False: ``store_keys`` first, in one of its own.
        self._keys_with_events = keys_with_events
        self._store_keys = store_keys
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=queue_size)
        self._max_batch = max_batch
        self.queued_seconds = queued_seconds
        self.stats = CommitStats()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._paused = paused  # tests queue requests first, then start() the writer

    def start(self) -> None:
        """Start the writer, or replace a dead one; the first submit() does it too."""
        with self._lock:
            self._paused = False
            if self._stopping or (self._thread is not None and self._thread.is_alive()):
                return
            if self._thread is not None:
                self.stats.restarts += 1
                log.error("group-commit writer died; starting a new one")
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def submit(self, aggregates: Sequence[Any], keys: Sequence[NewKey] = ()) -> Future[list[Any]]:
        if self._stopping:
            self._rejected("stopped")
            raise CommitterUnavailable("the service is shutting down; retry shortly")
        if not self._paused:
            self.start()  # lazily, and supervision on the request path: a dead one is replaced
        if keys and self._store_keys is None and not self._keys_with_events:
            raise ValueError("this committer stores no keys")
        request = _Request(tuple(aggregates), tuple(keys))
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self._rejected("queue_full")
            raise CommitterUnavailable("too many new cases waiting to be stored") from None
        return request.future

    def stop(self, timeout: float = 10.0) -> None:
        """Save what is queued, stop the writer, fail whatever is left."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            thread.join(timeout)
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                return
            if left is not None and left.future.set_running_or_notify_cancel():
                self._rejected("stopped")
                left.future.set_exception(CommitterUnavailable("the service stopped"))

    @property
    def writer(self) -> threading.Thread | None:
        return self._thread

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stop = [first], False
                while len(batch) < self._max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._commit(batch)
                if stop:
                    return
        finally:
            if not self._stopping:
                # The supervisor's restart, without waiting for the next request (queued ones
                # would otherwise only time out).
                dying = threading.current_thread()
                threading.Thread(target=self._restart, args=(dying,), daemon=True).start()

    def _restart(self, dead: threading.Thread) -> None:
        dead.join()
        self.start()

    def waiting(self) -> int:
        """Requests queued and not yet taken by the writer."""
        return self._queue.qsize()

    def _commit(self, batch: list[_Request]) -> None:
        # A request cancelled while queued (it timed out) is dropped; the rest are now taken:
        # their callers wait for the commit, whatever it takes.
        taken = [r for r in batch if r.future.set_running_or_notify_cancel()]
        for _ in range(len(batch) - len(taken)):
            self._rejected("gave_up_queued")
        if not taken:
            return
        start = time.perf_counter()
        if self._observer is not None:
            for request in taken:
                self._observer.taken(start - request.submitted)
        try:
            keys = [self._rows(r) for r in taken]
            every_key = [row for rows in keys for row in rows]
            try:
                if every_key and not self._keys_with_events and self._store_keys is not None:
                    # Keys first: an event never names a key that is not stored.
                    self._store_keys(every_key)
            except Exception as error:
                for request in taken:
                    request.future.set_exception(error)
                return
            events = [self._collect(r) for r in taken]
            try:
                recordings = self._store(every_key, [e for group in events for e in group])
            except IntegrityError:
                self._one_by_one(taken, events, keys)
                return
            except Exception as error:
                for request in taken:
                    request.future.set_exception(error)
                return
            self._count(len(taken), time.perf_counter() - start)
            first = 0
            for request, group in zip(taken, events, strict=True):
                request.future.set_result(recordings[first : first + len(group)])
                first += len(group)
        except BaseException:
            for request in taken:
                if not request.future.done():
                    request.future.set_exception(
                        CommitterUnavailable("the writer failed while storing this; retry")
                    )
            raise

    def _store(self, keys: list[tuple[UUID, bytes, datetime]], events: list[Any]) -> list[Any]:
        if keys and self._keys_with_events:
            return self._save(*events, data_keys=keys)
        return self._save(*events)

    @staticmethod
    def _rows(request: _Request) -> list[tuple[UUID, bytes, datetime]]:
        return [(k.key_id, k.wrapped, k.at) for k in request.keys]

    @staticmethod
    def _collect(request: _Request) -> list[Any]:
        # Events, not aggregates: a failed save has already emptied the aggregates' pending
        # events, and the one-by-one fallback must save them again.
        return [e for aggregate in request.aggregates for e in aggregate.collect_events()]

    def _one_by_one(
        self,
        taken: list[_Request],
        events: list[list[Any]],
        keys: list[list[tuple[UUID, bytes, datetime]]],
    ) -> None:
        """A clash fails the whole batch: save each request alone so only the offender fails."""
        self.stats.fallbacks += 1
        for request, group, rows in zip(taken, events, keys, strict=True):
            start = time.perf_counter()
            try:
                recordings = self._store(rows, group)
            except Exception as error:
                request.future.set_exception(error)
            else:
                self._count(1, time.perf_counter() - start)
                request.future.set_result(recordings)

    def _count(self, requests: int, seconds: float) -> None:
        self.stats.batches += 1
        self.stats.requests += requests
        self.stats.largest_batch = max(self.stats.largest_batch, requests)
        if self._observer is not None:
            self._observer.committed(requests, seconds)

    def _rejected(self, reason: str) -> None:
        self.stats.rejected += 1
        if self._observer is not None:
            self._observer.rejected(reason)
