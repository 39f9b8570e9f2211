"""The monev view in memory, for fast tests."""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection
from uuid import UUID

from domain.complaint import Complaint
from projections.monev.view import MonevChanges, MonevFact, Period


class MemoryMonevView:
    def __init__(self) -> None:
        self._facts: dict[UUID, MonevFact] = {}
        self._states: dict[UUID, Complaint] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def case_states(self, ids: Collection[UUID]) -> dict[UUID, Complaint]:
        with self._lock:
            return {i: copy.deepcopy(self._states[i]) for i in ids if i in self._states}

    def commit(self, changes: MonevChanges, position: int) -> None:
        with self._lock:
            if position <= self._position:
                raise ValueError(f"position {position} is not after {self._position}")
            self._facts.update(changes.facts)
            self._states.update(changes.states)
            self._position = position

    def facts(self, period: Period, unit: str | None = None) -> list[MonevFact]:
        with self._lock:
            chosen = [
                f
                for f in self._facts.values()
                if period.contains(f) and (unit is None or unit in (f.intake_unit, f.handling_unit))
            ]
        return sorted(chosen, key=lambda f: str(f.id))

    def facts_of(self, ids: Collection[UUID]) -> dict[UUID, MonevFact]:
        with self._lock:
            return {i: self._facts[i] for i in ids if i in self._facts}
