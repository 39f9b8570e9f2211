"""The queue view in memory, for fast tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from uuid import UUID

from projections.casework import MemoryCaseStates
from projections.queues.view import QueueChanges, QueueItem, QueueQuery


class MemoryQueueView(MemoryCaseStates):
    def __init__(self) -> None:
        super().__init__()
        self._items: dict[UUID, QueueItem] = {}

    def apply(self, changes: QueueChanges) -> None:
        self._items.update(changes.items)

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
