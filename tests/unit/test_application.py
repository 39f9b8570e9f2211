"""Use cases on the in-memory store: access, concurrency, idempotency, replay."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.access import Role
from application.complaints import Complaints
from application.errors import (
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionRequired,
    RequestInFlight,
    UnknownUnit,
    VersionConflict,
)
from domain.errors import TransitionNotAllowed
from domain.vocabulary import Category, Channel, FollowUpAction, Outcome, Status
from infrastructure.clock import ManualClock
from tests.support import AUDITOR, HEAD, INTAKE, TECH_JKT, new_case, officer


def routed_case(app: Complaints) -> tuple[str, int]:
    created = app.file_case(INTAKE, new_case())
    app.acknowledge(INTAKE, created.id, 1, message="diterima")
    routed = app.route(INTAKE, created.id, 2, to_unit="BBPOM-JAKARTA", note="periksa")
    return created.id, routed.version


def test_each_command_returns_the_new_version_and_a_growing_position(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    acked = memory_app.acknowledge(INTAKE, created.id, 1, message="diterima")
    assert (created.version, acked.version) == (1, 2)
    assert acked.position > created.position
    assert acked.status == "acknowledged"


def test_a_stale_or_missing_if_match_changes_nothing(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    with pytest.raises(PreconditionRequired):
        memory_app.acknowledge(INTAKE, created.id, None, message="m")
    with pytest.raises(VersionConflict):
        memory_app.acknowledge(INTAKE, created.id, 7, message="m")
    assert memory_app.case(INTAKE, created.id).case.version == 1


def test_a_case_outside_the_officers_units_is_not_found(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    stranger = officer(Role.INTAKE_OFFICER, units=("BBPOM-MAKASSAR",), sub="andi")
    with pytest.raises(NotFound):
        memory_app.case(stranger, created.id)
    with pytest.raises(NotFound):
        memory_app.acknowledge(stranger, created.id, 1, message="m")


def test_the_handling_unit_sees_a_routed_case_and_may_follow_it_up(memory_app) -> None:
    case_id, version = routed_case(memory_app)
    assert memory_app.case(TECH_JKT, case_id).case.status == Status.ROUTED
    result = memory_app.follow_up(
        TECH_JKT, case_id, version, action=FollowUpAction.INSPECTION, note="n", public=True
    )
    assert result.status == "in_follow_up"
    entry = memory_app.history(AUDITOR, case_id)[-1]
    assert (entry.actor.sub, entry.actor.unit) == ("budi", "BBPOM-JAKARTA")


def test_roles_limit_commands(memory_app) -> None:
    case_id, version = routed_case(memory_app)
    with pytest.raises(Forbidden):  # intake officers close only first-contact answers
        memory_app.close_case(INTAKE, case_id, version, outcome=Outcome.ANSWERED, answer="a")
    with pytest.raises(Forbidden):
        memory_app.route(AUDITOR, case_id, version, to_unit="ULPK-PUSAT", note="n")
    with pytest.raises(Forbidden):
        memory_app.file_case(TECH_JKT, new_case(intake_unit="BBPOM-JAKARTA"))


def test_a_status_the_machine_forbids_answers_conflict_not_forbidden(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    with pytest.raises(TransitionNotAllowed):
        memory_app.close_case(INTAKE, created.id, 1, outcome=Outcome.ANSWERED, answer="a")


def test_only_the_unit_head_reopens(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    memory_app.acknowledge(INTAKE, created.id, 1, message="m")
    memory_app.close_case(INTAKE, created.id, 2, outcome=Outcome.ANSWERED, answer="a")
    with pytest.raises(Forbidden):
        memory_app.reopen(INTAKE, created.id, 3, reason="r")
    assert memory_app.reopen(HEAD, created.id, 3, reason="r").status == "reopened"


def test_intake_must_serve_the_intake_unit_and_units_must_exist(memory_app) -> None:
    with pytest.raises(Forbidden):
        memory_app.file_case(INTAKE, new_case(intake_unit="BBPOM-JAKARTA"))
    with pytest.raises(UnknownUnit):
        memory_app.file_case(INTAKE, new_case(intake_unit="NOWHERE"))
    created = memory_app.file_case(INTAKE, new_case())
    memory_app.acknowledge(INTAKE, created.id, 1, message="m")
    with pytest.raises(UnknownUnit):
        memory_app.route(INTAKE, created.id, 2, to_unit="NOWHERE", note="n")


def test_whistle_blowing_cases_stay_with_their_designated_roles(memory_app) -> None:
    wbs_officer = officer(Role.WBS_OFFICER, units=("WBS-PUSAT",), sub="wbs")
    with pytest.raises(Forbidden):
        memory_app.file_case(INTAKE, new_case(channel=Channel.WBS))
    created = memory_app.file_case(
        wbs_officer, new_case(channel=Channel.WBS, intake_unit="WBS-PUSAT")
    )
    same_unit_intake = officer(Role.INTAKE_OFFICER, units=("WBS-PUSAT",))
    with pytest.raises(NotFound):
        memory_app.case(same_unit_intake, created.id)
    with pytest.raises(NotFound):
        memory_app.case(AUDITOR, created.id)
    assert memory_app.case(wbs_officer, created.id).case.confidential
    ethics = memory_app.file_case(HEAD, new_case(category=Category.ETIKA_PEGAWAI))
    with pytest.raises(NotFound):
        memory_app.case(INTAKE, ethics.id)


def test_a_repeated_create_with_the_same_key_creates_nothing(memory_app) -> None:
    first = memory_app.file_case(INTAKE, new_case(), idempotency_key="k-1", fingerprint="f")
    memory_app.acknowledge(INTAKE, first.id, 1, message="m")
    again = memory_app.file_case(INTAKE, new_case(), idempotency_key="k-1", fingerprint="f")
    assert (again.id, again.version, again.status, again.position, again.tracking_number) == (
        first.id,
        1,
        "received",
        first.position,
        first.tracking_number,
    )
    assert again.replayed
    with pytest.raises(IdempotencyKeyReused):
        memory_app.file_case(INTAKE, new_case(), idempotency_key="k-1", fingerprint="other")


def test_idempotency_keys_are_scoped_to_the_caller(memory_app) -> None:
    colleague = officer(Role.INTAKE_OFFICER, sub="rina")
    mine = memory_app.file_case(INTAKE, new_case(), idempotency_key="k", fingerprint="f")
    theirs = memory_app.file_case(colleague, new_case(), idempotency_key="k", fingerprint="f")
    assert mine.id != theirs.id


def test_a_create_still_in_flight_answers_conflict(memory_app) -> None:
    key_id = memory_app.file_case(INTAKE, new_case(), idempotency_key="probe").id
    with memory_app._claim(key_id), pytest.raises(RequestInFlight):
        memory_app.file_case(INTAKE, new_case(), idempotency_key="probe")


def test_the_case_replays_as_of_a_version_and_a_recorded_time(memory_app, clock) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    clock.advance(timedelta(hours=1))
    memory_app.acknowledge(INTAKE, created.id, 1, message="m")
    between = clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(hours=1))
    memory_app.route(INTAKE, created.id, 2, to_unit="BBPOM-JAKARTA", note="n")
    assert memory_app.case(AUDITOR, created.id, as_of_version=1).case.status == Status.RECEIVED
    assert memory_app.case(AUDITOR, created.id, as_of=between).case.status == Status.ACKNOWLEDGED
    assert memory_app.case(AUDITOR, created.id).case.status == Status.ROUTED
    with pytest.raises(NotFound):
        memory_app.case(AUDITOR, created.id, as_of_version=9)
    with pytest.raises(NotFound):
        memory_app.case(AUDITOR, created.id, as_of=created_minus(clock))


def created_minus(clock: ManualClock):
    return clock.now() - timedelta(days=1)


def test_history_lists_every_event_with_actor_time_and_position(memory_app) -> None:
    case_id, _ = routed_case(memory_app)
    history = memory_app.history(AUDITOR, case_id)
    assert [e.type for e in history] == ["Received", "Acknowledged", "Routed"]
    assert [e.version for e in history] == [1, 2, 3]
    assert all(e.position for e in history)
    assert "request_fingerprint" not in history[0].data
    assert history[2].data["to_unit"] == "BBPOM-JAKARTA"


def test_a_tracking_number_finds_its_case(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    typed = created.tracking_number.lower()
    assert memory_app.case_id_for_tracking_number(INTAKE, typed) == created.id
    with pytest.raises(NotFound):
        memory_app.case_id_for_tracking_number(INTAKE, "0000-0000-000")
    with pytest.raises(NotFound):
        memory_app.case(INTAKE, uuid4())


def test_a_relayed_complainant_message_is_kept_and_ends_a_wait_for_data(memory_app) -> None:
    case_id, version = routed_case(memory_app)
    relayed = memory_app.relay_complainant_message(case_id, message="foto kemasan terlampir")
    assert relayed.version == version + 1  # kept although nobody asked for data
    asked = memory_app.follow_up(
        TECH_JKT,
        case_id,
        relayed.version,
        action=FollowUpAction.REQUEST_DATA,
        note="mohon nomor bets",
        public=True,
    )
    assert memory_app.case(TECH_JKT, case_id).case.waiting_for_complainant
    memory_app.relay_complainant_message(case_id, message="nomor bets 123")
    case = memory_app.case(TECH_JKT, case_id).case
    assert case.version == asked.version + 1
    assert not case.waiting_for_complainant


def test_a_message_for_a_closed_or_unknown_case_is_refused(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case())
    memory_app.acknowledge(INTAKE, created.id, 1, message="diterima")
    memory_app.close_case(INTAKE, created.id, 2, outcome=Outcome.ANSWERED, answer="dijawab")
    with pytest.raises(TransitionNotAllowed):
        memory_app.relay_complainant_message(created.id, message="terima kasih")
    with pytest.raises(NotFound):
        memory_app.relay_complainant_message(uuid4(), message="halo")
