"""The queue view in memory, for fast tests."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Collection
from uuid import UUID

from domain.complaint import Complaint
from projections.queues.view import QueueChanges, QueueItem, QueueQuery


class MemoryQueueView:
    def __init__(self) -> None:
        self._items: dict[UUID, QueueItem] = {}
        self._states: dict[UUID, Complaint] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        with self._lock:
            return {i: copy.deepcopy(self._states[i]) for i in ids if i in self._states}

    def commit(self, changes: QueueChanges, position: int) -> None:
        with self._lock:
            if position <= self._position:
                raise ValueError(f"position {position} is not after {self._position}")
            self._items.update(changes.items)
            self._states.update(changes.states)
            self._position = position

    def items(self, ids: Collection[UUID]) -> dict[UUID, QueueItem]:
        return {i: self._items[i] for i in ids if i in self._items}

    def _in_queue(self, item: QueueItem, unit: str, include_restricted: bool) -> bool:
        return item.handling_unit == unit and (include_restricted or not item.restricted)

    def page(self, query: QueueQuery) -> list[QueueItem]:
        with self._lock:
            chosen = [
                i
                for i in self._items.values()
                if self._in_queue(i, query.unit, query.include_restricted)
                and i.status in query.statuses
                and (query.assignee is None or i.assignee == query.assignee)
                and (query.after is None or (i.sort_key, str(i.id)) > _key(query.after))
            ]
        chosen.sort(key=lambda i: (i.sort_key, str(i.id)))
        return chosen[: query.limit]

    def counts(self, unit: str, include_restricted: bool) -> dict[str, int]:
        with self._lock:
            return dict(
                Counter(
                    i.status
                    for i in self._items.values()
                    if self._in_queue(i, unit, include_restricted)
                )
            )


def _key(after: tuple[int, UUID]) -> tuple[int, str]:
    return after[0], str(after[1])
