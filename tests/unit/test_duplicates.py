"""Duplicates and standard answers below HTTP: old events still load, numbers normalise,
the projection keeps no contact data and forgets the reporter on erasure, scores combine."""

from __future__ import annotations

import json

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from application.access import Role
from application.complaints import Complaints
from application.errors import DuplicateCycle, NotFound
from domain.complaint import Complaint
from domain.errors import InvalidCommand, TransitionNotAllowed
from domain.product_registration import normalised_registration
from domain.values import Reporter
from domain.vocabulary import Outcome
from projections.duplicates.memory import MemoryDuplicateView
from projections.duplicates.projection import DuplicateProjection
from projections.duplicates.view import (
    Candidate,
    DuplicateQuery,
    token_similarity,
    tokens,
)
from projections.runner import Binding, LoggedEvent, Runner
from tests.support import HEAD, INTAKE, POPO, build_complaints, new_case, officer

NEW_FIELDS = {
    "Received": ("product_registration",),
    "Acknowledged": ("template_id", "template_version"),
    "FollowedUp": ("template_id", "template_version"),
    "Closed": ("template_id", "template_version"),
}


def _as_version_1(app: Complaints, stored: StoredEvent) -> StoredEvent:
    """The stored event as this code's predecessor wrote it: no new fields, no class_version."""
    state = json.loads(stored.state)
    kind = stored.topic.rsplit(".", 1)[-1]
    for name in NEW_FIELDS.get(kind, ()):
        state.pop(name, None)
    state.pop("class_version", None)
    return StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )


def test_events_stored_before_the_new_fields_still_load_with_none(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case(product_registration="NA18201200123"))
    memory_app.acknowledge(INTAKE, created.id, 1, message="diterima")
    memory_app.close_case(INTAKE, created.id, 2, outcome=Outcome.ANSWERED, answer="dijawab")
    stored = list(memory_app.recorder.select_events(created.id))
    assert json.loads(stored[0].state)["class_version"] == 2
    old = [_as_version_1(memory_app, s) for s in stored]
    assert "class_version" not in json.loads(old[0].state)
    events = [memory_app.mapper.to_domain_event(s) for s in old]
    assert events[0].product_registration is None
    assert (events[1].template_id, events[2].template_version) == (None, None)
    case = None
    for event in events:
        case = event.mutate(case)
    assert isinstance(case, Complaint)
    assert case.product_registration is None and case.templates_used == ()
    assert case.status.value == "closed"


@pytest.mark.parametrize(
    "written, normal",
    [
        ("NA18201200123", "NA18201200123"),
        (" na 1820-1200-123 ", "NA18201200123"),
        ("BPOM RI MD 224510001234", "MD224510001234"),
        ("MD.224510001234", "MD224510001234"),
        ("POM TR 123456789", "TR123456789"),
        ("POM SD 181234567", "SD181234567"),
        ("DKL1234567890A1", "DKL1234567890A1"),
        ("", None),
        (None, None),
    ],
)
def test_registration_numbers_normalise(written, normal) -> None:
    assert normalised_registration(written) == normal


@pytest.mark.parametrize("bad", ["ABCDEF", "12", "NA 1<2>3", "POM", "X" * 70, "NA1"])
def test_malformed_registration_numbers_are_refused(bad) -> None:
    with pytest.raises(InvalidCommand) as raised:
        normalised_registration(bad)
    assert raised.value.field == "product_registration"


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789", min_size=6, max_size=14), st.sampled_from(["NA", "MD", "TR"]))
def test_spacing_and_case_never_change_the_normal_form(digits: str, prefix: str) -> None:
    plain = normalised_registration(prefix + digits)
    spaced = normalised_registration(f" {prefix.lower()} {' '.join(digits)} ")
    assert plain == spaced == prefix + digits


def test_scores_combine_reasons_and_token_overlap_is_jaccard() -> None:
    assert token_similarity(tokens("Krim pemutih wajah"), tokens("krim PEMUTIH kulit")) == 0.5
    assert tokens("yang dan di krim") == frozenset({"krim"})
    row = _row_of_a_case()
    assert Candidate(row, same_registration=True).score == 0.9
    assert Candidate(row, same_email=True, same_phone=True).score == 0.8
    assert Candidate(row, same_registration=True, same_email=True).score == 0.98
    assert Candidate(row, similarity=0.5, same_email=True).score == 0.9
    assert not Candidate(row, same_email=True).without_reporter().has_reason


def _row_of_a_case():
    view, _ = _projected([new_case(product_registration="NA18201200123")])
    return next(iter(view._rows.values()))


def _projected(cases, erase_first: bool = False):
    """File ``cases`` on an in-memory app and run the duplicates projection over its log."""

    app = build_complaints(POPO)
    ids = [app.file_case(INTAKE, c).id for c in cases]
    if erase_first:
        admin = officer(Role.ADMIN, units=("*",), sub="admin")
        app.erase_reporter(admin, ids[0], 1, reason="permintaan pelapor")
    view = MemoryDuplicateView()
    log = _AppLog(app)
    Runner(log, [Binding(DuplicateProjection(app.personal_data.open_texts), view)]).catch_up()
    app.close()
    return view, ids


class _AppLog:
    def __init__(self, app: Complaints) -> None:
        self.app = app

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        found = self.app.recorder.select_notifications(after + 1, limit)
        return [
            LoggedEvent(
                n.id,
                n.originator_id,
                n.originator_version,
                n.topic,
                n.state,
                lambda n=n: self.app.mapper.to_domain_event(n),
            )
            for n in found
        ]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def test_the_stored_text_leaves_out_the_reporters_contacts_and_name() -> None:
    reporter = Reporter("Rahmawati Putri", "rahma@example.id", "0812 3456 7890", "Jl. Melati 7")
    view, ids = _projected(
        [
            new_case(
                reporter=reporter,
                description="Rahmawati Putri, rahma@example.id, +62 812 3456 7890, Jl. Melati 7: "
                "krim NA18201200123 membuat kulit iritasi",
            )
        ]
    )
    row = view.rows(ids)[ids[0]]
    assert "rahma@" not in row.match_text and "3456" not in row.match_text
    assert "Rahmawati" not in row.match_text and "Putri" not in row.match_text
    assert "Melati" not in row.match_text
    assert "NA18201200123" in row.match_text and "iritasi" in row.match_text
    assert row.email_match and row.phone_match


def test_after_erasure_the_row_has_no_hashes_and_only_its_subject() -> None:
    reporter = Reporter("Rahma", "rahma@example.id", "0812 3456 7890", None)
    view, ids = _projected([new_case(reporter=reporter), new_case(reporter=reporter)], True)
    rows = view.rows(ids)
    erased, other = rows[ids[0]], rows[ids[1]]
    assert (erased.email_match, erased.phone_match) == (None, None)
    assert erased.match_text == erased.subject
    query = DuplicateQuery(
        other.id, other.category, None, other.email_match, other.phone_match, "zzz"
    )
    assert view.candidates(query) == []


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["file", "close_duplicate", "reopen", "erase", "route"]),
            st.integers(0, 5),
            st.sampled_from([None, "NA18201200123", "MD 224510001234"]),
            st.sampled_from([None, "a@example.id", "b@example.id"]),
        ),
        min_size=1,
        max_size=14,
    ),
    st.integers(1, 4),
)
def test_rebuilding_the_duplicates_read_model_equals_keeping_it_live(steps, batch) -> None:
    app = build_complaints(POPO)
    log = _AppLog(app)
    projection = DuplicateProjection(app.personal_data.open_texts)
    live = MemoryDuplicateView()
    runner = Runner(log, [Binding(projection, live)], batch_size=batch)
    admin = officer(Role.ADMIN, units=("*",), sub="admin")
    ids: list = []
    for action, pick, registration, email in steps:
        target = ids[pick % len(ids)] if ids else None
        case = app.repository.get(target) if target else None
        try:
            if action == "file" or case is None:
                reporter = Reporter("Rahma", email, None, None) if email else None
                new = new_case(product_registration=registration, reporter=reporter)
                ids.append(app.file_case(INTAKE, new).id)
            elif action == "close_duplicate" and len(ids) > 1:
                if case.status.value == "received":
                    app.acknowledge(INTAKE, case.id, case.version, message="ok")
                    case = app.repository.get(case.id)
                original = ids[(pick + 1) % len(ids)]
                app.mark_duplicate(HEAD, case.id, case.version, original_id=original)
            elif action == "reopen" and case.status.value == "closed":
                app.reopen(HEAD, case.id, case.version, reason="keberatan")
            elif action == "erase" and not case.reporter_erased:
                app.erase_reporter(admin, case.id, case.version, reason="permintaan")
            elif action == "route" and case.status.value != "received" and case.is_open:
                app.route(INTAKE, case.id, case.version, to_unit="BBPOM-JAKARTA", note="x")
        except (TransitionNotAllowed, InvalidCommand, DuplicateCycle, NotFound):
            pass
        runner.catch_up()
    rebuilt = MemoryDuplicateView()
    Runner(log, [Binding(projection, rebuilt)], batch_size=1000).catch_up()
    app.close()
    assert rebuilt.rows(ids) == live.rows(ids)
    assert len(live.rows(ids)) == len(ids)
    for case_id in ids:
        assert rebuilt.duplicates_of(case_id) == live.duplicates_of(case_id)
