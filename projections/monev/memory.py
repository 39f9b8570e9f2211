"""The monev view in memory, for fast tests."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from projections.casework import MemoryCaseStates
from projections.monev.view import MonevChanges, MonevFact, Period


class MemoryMonevView(MemoryCaseStates):
    def __init__(self) -> None:
        super().__init__()
        self._facts: dict[UUID, MonevFact] = {}

    def apply(self, changes: MonevChanges) -> None:
        self._facts.update(changes.facts)

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
