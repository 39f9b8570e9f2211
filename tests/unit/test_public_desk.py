"""The public use cases in memory: filing with a PIN, opening, and retrying on a version clash."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from application.complaints import Complaints
from application.errors import NotFound, TooManyAttempts
from application.public import PinHolder, PublicDesk
from domain.complaint import Complaint
from domain.public_access import PublicAccess
from domain.values import PUBLIC_ACTOR
from domain.vocabulary import Channel, FollowUpAction, Status
from infrastructure.attempts import LocalAttempts
from infrastructure.clock import ManualClock
from tests.support import HEAD, INTAKE, MONDAY, POPO, build_complaints, new_case


@pytest.fixture
def app() -> Iterator[Complaints]:
    application = build_complaints(POPO, ManualClock(MONDAY))
    yield application
    application.close()


def filed(desk: PublicDesk) -> tuple[str, str, UUID]:
    result, pin = desk.file(
        new_case(channel=Channel.WEB), client="10.0.0.1", idempotency_key=None, fingerprint=None
    )
    assert pin is not None and result.tracking_number is not None
    return result.tracking_number, pin, result.id


def test_a_filed_case_is_received_from_the_public_with_its_pin_hash_beside_it(app) -> None:
    desk = PublicDesk(app, intake_unit="ULPK-PUSAT")
    number, pin, case_id = filed(desk)
    case: Complaint = app.repository.get(case_id)
    assert case.received_by == PUBLIC_ACTOR and case.version == 1
    access: PublicAccess = app.repository.get(PublicAccess.id_for(case_id))
    assert access.complaint_id == case_id and pin not in access.pin_hash
    assert desk.open(number, pin, "10.0.0.1") == PinHolder(case_id)


def test_wrong_pins_are_counted_per_number_and_then_refused_even_when_right(app) -> None:
    desk = PublicDesk(
        app,
        intake_unit="ULPK-PUSAT",
        number_attempts=LocalAttempts(2, 60),
        client_attempts=LocalAttempts(10, 60),
    )
    number, pin, _ = filed(desk)
    for _ in range(2):
        with pytest.raises(NotFound):
            desk.open(number, "0000000000", "10.0.0.2")
    with pytest.raises(TooManyAttempts):
        desk.open(number, pin, "10.0.0.3")


def test_a_public_command_that_lost_a_race_is_retried_on_the_stored_case(app) -> None:
    desk = PublicDesk(app, intake_unit="ULPK-PUSAT")
    number, pin, case_id = filed(desk)
    app.acknowledge(INTAKE, case_id, 1, message="m")
    app.follow_up(HEAD, case_id, 2, action=FollowUpAction.REQUEST_DATA, note="n", public=True)
    holder = desk.open(number, pin, "10.0.0.1")
    stale: Complaint = app.repository.get(case_id)
    # Between the complainant's load and save, an officer records something on the case.
    app.route(HEAD, case_id, 3, to_unit="BBPOM-JAKARTA", note="x")

    class Racing(PublicDesk):
        loads = 0

        def _load(self, case_id: UUID) -> Complaint:
            self.loads += 1
            return stale if self.loads == 1 else super()._load(case_id)

    racing = Racing(app, intake_unit="ULPK-PUSAT")
    answer = racing.reply(holder, message="foto")
    assert racing.loads == 2
    assert answer.version == 5 and answer.waiting_for_complainant is False
    assert app.repository.get(case_id).status == Status.ROUTED  # the officer's step kept
