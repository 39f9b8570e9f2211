"""Organisational units: a code, a name and the time zone their deadlines are counted in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

TIME_ZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    timezone: str
    kind: str = "directorate"
    province: str | None = None
    parent: str | None = None

    def __post_init__(self) -> None:
        if self.timezone not in TIME_ZONES:
            raise ValueError(f"unit {self.code}: time zone must be one of {sorted(TIME_ZONES)}")


class UnitDirectory(Mapping[str, Unit]):
    """The units an agency has, by code."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self._units = {u.code: u for u in units}

    def __getitem__(self, code: str) -> Unit:
        return self._units[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)

    def zone_of(self, code: str) -> str:
        """The unit's time zone; an unknown code (a unit later removed) counts in WIB."""
        unit = self._units.get(code)
        return unit.timezone if unit else "Asia/Jakarta"
