"""Builders shared by the tests: principals, case bodies, applications on each store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from application.access import Principal, Role
from application.complaints import Complaints, NewCase
from application.privacy import PersonalData
from domain.vocabulary import Category, Channel, Kind
from infrastructure.access_log import MemoryAccessLog
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import ManualClock, SystemRandomness
from infrastructure.crypto import AesGcmEnvelope
from infrastructure.keystore import MemoryKeyStore
from infrastructure.persistence import positions_for
from infrastructure.reference_data import PolicyBook, shipped_units

# A Monday with no holiday near it, 09:00 WIB.
MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def officer(
    *roles: Role | str, units: tuple[str, ...] = ("ULPK-PUSAT",), sub: str = "siti"
) -> Principal:
    return Principal(sub, frozenset(Role(r) for r in roles), frozenset(units))


INTAKE = officer(Role.INTAKE_OFFICER)
TECH_JKT = officer(Role.TECHNICAL_OFFICER, units=("BBPOM-JAKARTA",), sub="budi")
HEAD = officer(Role.UNIT_HEAD, units=("ULPK-PUSAT", "BBPOM-JAKARTA"), sub="kepala")
AUDITOR = officer(Role.AUDITOR, units=("*",), sub="inspektorat")


def new_case(**overrides: Any) -> NewCase:
    fields: dict[str, Any] = {
        "kind": Kind.COMPLAINT,
        "channel": Channel.PHONE,
        "category": Category.KOSMETIK,
        "subject": "Krim pemutih tanpa izin edar",
        "description": "Iritasi kulit setelah memakai krim tanpa nomor notifikasi",
        "reporter": None,
        "anonymous": False,
        "confidential": False,
        "needs_inspection": False,
        "intake_unit": "ULPK-PUSAT",
    }
    fields.update(overrides)
    return NewCase(**fields)


def complaint_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "channel": "phone",
        "category": "kosmetik",
        "subject": "Krim pemutih tanpa izin edar",
        "description": "Iritasi kulit setelah memakai krim tanpa nomor notifikasi",
        "reporter": {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+62 812 3456"},
        "anonymous": False,
        "confidential": False,
        "needs_inspection": False,
        "intake_unit": "ULPK-PUSAT",
    }
    body.update(overrides)
    return body


def memory_personal_data(clock: ManualClock, secret: str = "test-master-key") -> PersonalData:
    return PersonalData(MemoryKeyStore(), AesGcmEnvelope.from_master_secret(secret), clock)


def build_complaints(env: Mapping[str, str], clock: ManualClock | None = None) -> Complaints:
    clock = clock or ManualClock(MONDAY)
    return Complaints(
        env,
        clock=clock,
        randomness=SystemRandomness(),
        units=shipped_units(),
        policies=PolicyBook.shipped(),
        calendars=HolidayCalendars(),
        positions=positions_for,
        personal_data=memory_personal_data(clock),
        access_log=MemoryAccessLog(),
    )
