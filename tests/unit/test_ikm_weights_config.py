"""A unit's IKM weights in the agency configuration: versioned, exact, replayed from events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from domain.configuration import AgencyConfiguration
from domain.errors import InvalidCommand
from domain.values import Actor

ADMIN = Actor("admin", None)
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
HEAVY_FIRST = ["0.2"] + ["0.1"] * 8


def test_weights_are_versioned_per_unit_and_survive_a_replay() -> None:
    config = AgencyConfiguration.start(ADMIN, T0)
    first = config.set_ikm_weights(
        unit="ULPK-PUSAT", weights=HEAVY_FIRST, description="", actor=ADMIN, at=T0
    )
    assert (first.version, first.weights) == (1, (Fraction(1, 5),) + (Fraction(1, 10),) * 8)
    later = T0 + timedelta(days=1)
    config.set_ikm_weights(unit="ULPK-PUSAT", weights=None, description="", actor=ADMIN, at=later)
    thirds = ["1/3", "1/3", "1/6", "1/6"]
    with pytest.raises(InvalidCommand):  # four weights, not nine
        config.set_ikm_weights(
            unit="BBPOM-JAKARTA", weights=thirds, description="", actor=ADMIN, at=later
        )
    versions = config.ikm_weight_versions("ULPK-PUSAT")
    assert [(v.version, v.weights is None, v.set_at) for v in versions] == [
        (1, False, T0),
        (2, True, later),
    ]
    replayed = None
    for event in config.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, AgencyConfiguration)
    assert replayed.ikm_weight_versions("ULPK-PUSAT") == versions
    assert replayed.ikm_weight_versions("BBPOM-JAKARTA") == []


def test_weights_not_summing_to_exactly_one_are_refused_and_record_nothing() -> None:
    config = AgencyConfiguration.start(ADMIN, T0)
    with pytest.raises(InvalidCommand):
        config.set_ikm_weights(
            unit="ULPK-PUSAT", weights=["0.11"] * 9, description="", actor=ADMIN, at=T0
        )
    assert config.ikm_weight_versions() == []
    assert len(config.collect_events()) == 1  # only Started


def test_a_configuration_started_before_ikm_weights_existed_takes_them_in() -> None:
    config = AgencyConfiguration.start(ADMIN, T0)
    config.__dict__.pop("ikm_weights", None)
    assert config.ikm_weight_versions("ULPK-PUSAT") == []
    config.set_ikm_weights(
        unit="ULPK-PUSAT", weights=HEAVY_FIRST, description="", actor=ADMIN, at=T0
    )
    assert config.ikm_weight_versions("ULPK-PUSAT")[0].version == 1
