"""The Complaint aggregate's status machine, and replay equals live state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.complaint import Complaint
from domain.errors import InvalidCommand, TransitionNotAllowed
from domain.values import Actor, Reporter
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome, Status
from tests.support import POPO, build_complaints

ACTOR = Actor("siti", "ULPK-PUSAT")
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def received(**overrides) -> Complaint:
    fields = dict(
        id=uuid4(),
        tracking_number="0000000000A",
        kind=Kind.COMPLAINT,
        channel=Channel.WEB,
        category=Category.OBAT,
        subject="s",
        description="d",
        reporter=Reporter(name="Siti", email="siti@example.id"),
        anonymous=False,
        confidential=False,
        needs_inspection=False,
        intake_unit="ULPK-PUSAT",
        received_at=T0,
        external_ref=None,
        policy_version=1,
        request_fingerprint=None,
        actor=ACTOR,
        at=T0,
    )
    fields.update(overrides)
    return Complaint.receive(**fields)


def test_a_case_goes_through_its_whole_life() -> None:
    case = received()
    case.acknowledge(message="diterima", actor=ACTOR, at=T0)
    case.route(to_unit="BBPOM-JAKARTA", note="n", assignee="budi", actor=ACTOR, at=T0)
    case.follow_up(action=FollowUpAction.INSPECTION, note="n", public=True, actor=ACTOR, at=T0)
    case.close(outcome=Outcome.SUBSTANTIATED, answer="a", actor=ACTOR, at=T0)
    case.reopen(reason="keberatan", actor=ACTOR, at=T0)
    assert case.status == Status.REOPENED
    assert case.version == 6
    assert [type(e).__name__ for e in case.collect_events()] == [
        "Received",
        "Acknowledged",
        "Routed",
        "FollowedUp",
        "Closed",
        "Reopened",
    ]


def test_closing_a_closed_complaint_is_rejected() -> None:
    case = received()
    case.acknowledge(message="m", actor=ACTOR, at=T0)
    case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=T0)
    with pytest.raises(TransitionNotAllowed):
        case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=T0)


def test_a_received_case_must_be_acknowledged_before_routing_or_closing() -> None:
    case = received()
    with pytest.raises(TransitionNotAllowed):
        case.route(to_unit="BBPOM-JAKARTA", note="n", assignee=None, actor=ACTOR, at=T0)
    with pytest.raises(TransitionNotAllowed):
        case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=T0)


def test_missing_data_can_be_requested_right_after_acknowledgement() -> None:
    case = received()
    case.acknowledge(message="m", actor=ACTOR, at=T0)
    with pytest.raises(TransitionNotAllowed):
        case.follow_up(
            action=FollowUpAction.CLARIFICATION, note="n", public=False, actor=ACTOR, at=T0
        )
    case.follow_up(action=FollowUpAction.REQUEST_DATA, note="n", public=True, actor=ACTOR, at=T0)
    assert case.status == Status.ACKNOWLEDGED
    assert case.waiting_for_complainant


def test_archiving_for_missing_data_needs_a_pending_request() -> None:
    case = received()
    case.acknowledge(message="m", actor=ACTOR, at=T0)
    with pytest.raises(TransitionNotAllowed):
        case.close(outcome=Outcome.ARCHIVED_MISSING_DATA, answer="a", actor=ACTOR, at=T0)


def test_a_duplicate_names_its_original_and_not_itself() -> None:
    case = received()
    case.acknowledge(message="m", actor=ACTOR, at=T0)
    with pytest.raises(InvalidCommand):
        case.close(outcome=Outcome.DUPLICATE, answer="a", actor=ACTOR, at=T0)
    with pytest.raises(InvalidCommand):
        case.close(outcome=Outcome.DUPLICATE, answer="a", actor=ACTOR, at=T0, duplicate_of=case.id)
    original = uuid4()
    case.close(outcome=Outcome.DUPLICATE, answer="a", actor=ACTOR, at=T0, duplicate_of=original)
    assert case.duplicate_of == original


def test_a_future_received_at_is_rejected() -> None:
    with pytest.raises(InvalidCommand) as error:
        received(received_at=T0 + timedelta(minutes=5))
    assert error.value.field == "received_at"


def test_whistle_blowing_is_always_confidential_and_restricted() -> None:
    case = received(channel=Channel.WBS, confidential=False)
    assert case.confidential
    assert case.is_restricted
    assert received(category=Category.ETIKA_PEGAWAI).is_restricted


# --- a stateful property test: random command sequences against the aggregate ---------------

TRANSITIONS = {
    "acknowledge": {Status.RECEIVED},
    "route": {Status.ACKNOWLEDGED, Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED},
    "follow_up": {Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED},
    "close": {Status.ACKNOWLEDGED, Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED},
    "reopen": {Status.CLOSED},
}
UNITS = ["ULPK-PUSAT", "BBPOM-JAKARTA", "BBPOM-MAKASSAR", "BBPOM-JAYAPURA", "DIT-REG-PANGAN"]


class ComplaintMachine(RuleBasedStateMachine):
    """Drives one case with random commands; a model of the status machine predicts each."""

    def __init__(self) -> None:
        super().__init__()
        self.app = build_complaints(POPO)
        self.now = T0
        self.case = received(at=T0, received_at=T0)
        self.case_id: UUID = self.case.id
        self.app.save(self.case)
        self.expected = Status.RECEIVED
        self.waiting = False

    def teardown(self) -> None:
        self.app.close()

    def _tick(self) -> datetime:
        self.now += timedelta(hours=7)
        return self.now

    def _attempt(self, command: str, method, **kwargs) -> bool:
        allowed = self.expected in TRANSITIONS[command]
        try:
            method(actor=ACTOR, at=self._tick(), **kwargs)
        except TransitionNotAllowed:
            assert not allowed, f"{command} refused from {self.expected}"
            return False
        except InvalidCommand:
            return False
        assert allowed, f"{command} accepted from {self.expected}"
        self.app.save(self.case)
        return True

    @rule()
    def acknowledge(self) -> None:
        if self._attempt("acknowledge", self.case.acknowledge, message="m"):
            self.expected = Status.ACKNOWLEDGED

    @rule(unit=st.sampled_from(UNITS))
    def route(self, unit: str) -> None:
        if self._attempt("route", self.case.route, to_unit=unit, note="n", assignee=None):
            self.expected = Status.ROUTED

    @rule(action=st.sampled_from([a for a in FollowUpAction if a != FollowUpAction.REQUEST_DATA]))
    def follow_up(self, action: FollowUpAction) -> None:
        if self._attempt("follow_up", self.case.follow_up, action=action, note="n", public=True):
            self.expected = Status.IN_FOLLOW_UP

    @rule()
    def request_data(self) -> None:
        allowed = self.expected in TRANSITIONS["follow_up"] | {Status.ACKNOWLEDGED}
        try:
            self.case.follow_up(
                action=FollowUpAction.REQUEST_DATA,
                note="n",
                public=True,
                actor=ACTOR,
                at=self._tick(),
            )
        except TransitionNotAllowed:
            assert not allowed
            return
        except InvalidCommand:
            assert self.waiting
            return
        assert allowed
        self.app.save(self.case)
        self.waiting = True
        if self.expected != Status.ACKNOWLEDGED:
            self.expected = Status.IN_FOLLOW_UP

    @rule()
    def complainant_replies(self) -> None:
        try:
            self.case.record_complainant_reply(message="data", actor=ACTOR, at=self._tick())
        except TransitionNotAllowed:
            assert not self.waiting or self.expected == Status.CLOSED
            return
        self.app.save(self.case)
        self.waiting = False

    @rule(outcome=st.sampled_from([o for o in Outcome if o != Outcome.DUPLICATE]))
    def close(self, outcome: Outcome) -> None:
        if outcome == Outcome.ARCHIVED_MISSING_DATA and not self.waiting:
            with pytest.raises(TransitionNotAllowed):
                self.case.close(outcome=outcome, answer="a", actor=ACTOR, at=self._tick())
            return
        if self._attempt("close", self.case.close, outcome=outcome, answer="a"):
            self.expected = Status.CLOSED
            self.waiting = False

    @rule()
    def reopen(self) -> None:
        if self._attempt("reopen", self.case.reopen, reason="r"):
            self.expected = Status.REOPENED

    @invariant()
    def status_follows_the_model(self) -> None:
        assert self.case.status == self.expected
        assert self.case.waiting_for_complainant == self.waiting

    @invariant()
    def replaying_the_stored_events_rebuilds_the_same_state(self) -> None:
        replayed = self.app.repository.get(self.case_id)
        assert replayed.__dict__ == self.case.__dict__


ComplaintMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
test_random_command_sequences_keep_the_status_machine = ComplaintMachine.TestCase


def closed_case() -> Complaint:
    case = received()
    case.acknowledge(message="diterima", actor=ACTOR, at=T0)
    case.close(outcome=Outcome.ANSWERED, answer="a", actor=ACTOR, at=T0)
    return case


def test_a_survey_is_answered_once_after_closure_and_a_one_flags_the_case() -> None:
    case = received()
    with pytest.raises(TransitionNotAllowed):
        case.answer_survey(scores=[4] * 9, comment=None, actor=ACTOR, at=T0)
    case = closed_case()
    case.answer_survey(scores=[4, 3, 3, 1, 4, 4, 4, 4, 4], comment=" lambat ", actor=ACTOR, at=T0)
    assert case.flagged_for_review and case.survey_answered_at == T0
    event = case.collect_events()[-1]
    assert isinstance(event, Complaint.SurveyAnswered)
    assert event.unit == "ULPK-PUSAT" and event.comment == "lambat"
    with pytest.raises(TransitionNotAllowed):
        case.answer_survey(scores=[4] * 9, comment=None, actor=ACTOR, at=T0)


@pytest.mark.parametrize(
    "scores", [[4] * 8, [4] * 10, [4] * 8 + [5], [0] + [4] * 8, [True] + [4] * 8, [3.5] + [4] * 8]
)
def test_survey_scores_are_nine_integers_from_one_to_four(scores: list) -> None:
    case = closed_case()
    with pytest.raises(InvalidCommand):
        case.answer_survey(scores=scores, comment=None, actor=ACTOR, at=T0)
    assert case.survey_answered_at is None
