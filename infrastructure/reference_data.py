"""Shipped reference data: units with their time zones, and versioned SLA policies."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from domain.service_levels import SlaPolicy
from domain.units import Unit, UnitDirectory


def _load(name: str) -> Any:
    return json.loads(resources.files("infrastructure").joinpath("data", name).read_text("utf-8"))


def shipped_units() -> UnitDirectory:
    return UnitDirectory(
        Unit(
            code=u["code"],
            name=u["name"],
            timezone=u["timezone"],
            kind=u.get("kind", "directorate"),
            province=u.get("province"),
            parent=u.get("parent"),
        )
        for u in _load("units.json")
    )


class PolicyBook:
    """Versioned SLA policies; new cases start under the newest one."""

    def __init__(self, policies: list[SlaPolicy]) -> None:
        if not policies:
            raise ValueError("at least one SLA policy is needed")
        self._by_version = {p.version: p for p in policies}

    @classmethod
    def shipped(cls) -> PolicyBook:
        return cls(
            [
                SlaPolicy(
                    version=p["version"],
                    acknowledge=p["acknowledge"],
                    route=p["route"],
                    first_follow_up=p["first_follow_up"],
                    close=dict(p["close"]),
                    archive_after_silence=p["archive_after_silence"],
                )
                for p in _load("sla_policies.json")
            ]
        )

    def current(self) -> SlaPolicy:
        return self._by_version[max(self._by_version)]

    def get(self, version: int) -> SlaPolicy:
        return self._by_version[version]

    def versions(self) -> list[int]:
        return sorted(self._by_version)

    def add(self, policy: SlaPolicy) -> None:
        if policy.version in self._by_version:
            raise ValueError(f"policy version {policy.version} exists already")
        self._by_version[policy.version] = policy
