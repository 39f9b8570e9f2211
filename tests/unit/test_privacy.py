"""Personal data at rest: sealing, keys, who sees a reporter, erasure, the access log."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from application.access import Role
from application.errors import Forbidden, NotFound, PreconditionRequired
from application.privacy import (
    ERASED,
    REDACTED,
    UNREADABLE,
    PersonalData,
    associated_data,
)
from domain.errors import TransitionNotAllowed
from domain.values import Reporter, normalised_phone
from domain.vocabulary import Channel, FollowUpAction, Outcome
from infrastructure.clock import ManualClock
from infrastructure.crypto import AesGcmEnvelope
from infrastructure.keystore import MemoryKeyStore
from tests.support import (
    AUDITOR,
    HEAD,
    INTAKE,
    MONDAY,
    TECH_JKT,
    memory_personal_data,
    new_case,
    officer,
)

ADMIN = officer(Role.ADMIN, units=("*",), sub="admin")
EMAIL = "planted-unit@example.id"
REPORTER = Reporter(name="Siti Planted", email=EMAIL, phone="0812 3456 7890", address="Jl. X 1")


@pytest.fixture
def personal() -> PersonalData:
    return memory_personal_data(ManualClock(MONDAY))


def test_a_sealed_text_opens_with_its_key_case_and_field(personal) -> None:
    case_id = uuid4()
    sealer = personal.sealer_for_new_case(case_id, MONDAY)
    sealed = sealer.seal("reporter.email", EMAIL)
    assert EMAIL.encode() not in sealed.ciphertext
    assert personal.opener(case_id).text("reporter.email", sealed) == EMAIL


def test_associated_data_binds_a_ciphertext_to_its_case_and_field(personal) -> None:
    case_id = uuid4()
    sealed = personal.sealer_for_new_case(case_id, MONDAY).seal("reporter.email", EMAIL)
    assert personal.opener(case_id).text("reporter.name", sealed) == UNREADABLE
    assert personal.opener(uuid4()).text("reporter.email", sealed) == UNREADABLE


def test_a_wrong_data_key_does_not_open_a_sealed_text(personal) -> None:
    envelope = personal.envelope
    sealed = envelope.seal(envelope.new_key(), uuid4(), b"ad", "rahasia")
    with pytest.raises(ValueError):
        envelope.open(envelope.new_key(), sealed, b"ad")


def test_a_wrong_master_key_does_not_unwrap_a_data_key() -> None:
    key_id = uuid4()
    wrapped = AesGcmEnvelope.from_master_secret("one").wrap(key_id, b"k" * 32)
    with pytest.raises(ValueError):
        AesGcmEnvelope.from_master_secret("other").unwrap(key_id, wrapped)
    with pytest.raises(ValueError):  # a wrapped key cannot be passed off as another key
        AesGcmEnvelope.from_master_secret("one").unwrap(uuid4(), wrapped)


def test_an_erased_key_leaves_its_texts_unreadable_for_good(personal) -> None:
    case_id = uuid4()
    sealer = personal.sealer_for_new_case(case_id, MONDAY)
    sealed = sealer.seal("description", "isi pengaduan")
    assert personal.erase(sealer.key_id, MONDAY)
    assert not personal.erase(sealer.key_id, MONDAY)  # already gone
    assert personal.opener(case_id).text("description", sealed) == ERASED
    assert personal.sealer(case_id, sealer.key_id) is None


def test_the_same_reporter_hash_ignores_how_the_phone_was_written(personal) -> None:
    sealer = personal.sealer_for_new_case(uuid4(), MONDAY)
    other = personal.sealer_for_new_case(uuid4(), MONDAY)
    local = sealer.match_hash("phone", normalised_phone("0812-3456-7890"))
    international = other.match_hash("phone", normalised_phone("+62 812 3456 7890"))
    assert local == international
    assert "81234567890" not in local


def test_keys_wrapped_under_the_old_master_key_open_after_a_rewrap() -> None:
    keys = MemoryKeyStore()
    clock = ManualClock(MONDAY)
    old = PersonalData(keys, AesGcmEnvelope.from_master_secret("old"), clock)
    case_id = uuid4()
    sealed = old.sealer_for_new_case(case_id, MONDAY).seal("description", "teks")
    match = old.sealer_for_new_case(uuid4(), MONDAY).match_hash("email", EMAIL)
    new = PersonalData(keys, AesGcmEnvelope.from_master_secret("new"), clock)
    with pytest.raises(ValueError):
        new.opener(case_id).text("description", sealed)
    assert new.rewrap(AesGcmEnvelope.from_master_secret("old")) == 3  # two cases + match key
    assert new.opener(case_id).text("description", sealed) == "teks"
    assert new.sealer_for_new_case(uuid4(), MONDAY).match_hash("email", EMAIL) == match
    new.rewrap(AesGcmEnvelope.from_master_secret("old"))  # a second run is harmless
    assert new.opener(case_id).text("description", sealed) == "teks"


def _stored(app) -> bytes:
    return b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100))


def test_a_filed_case_stores_no_personal_data_in_clear(memory_app) -> None:
    created = memory_app.file_case(
        INTAKE, new_case(reporter=REPORTER, description=f"Saya {EMAIL} dirugikan")
    )
    stored = _stored(memory_app)
    for planted in (EMAIL, "Siti Planted", "3456", "Jl. X 1"):
        assert planted.encode() not in stored
    shown = memory_app.case(INTAKE, created.id).personal
    assert shown.reporter == REPORTER and EMAIL in shown.description


def test_later_notes_and_answers_are_sealed_too(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case(reporter=REPORTER))
    memory_app.acknowledge(INTAKE, created.id, 1, message="diterima")
    memory_app.route(INTAKE, created.id, 2, to_unit="BBPOM-JAKARTA", note="periksa")
    memory_app.follow_up(
        TECH_JKT,
        created.id,
        3,
        action=FollowUpAction.CLARIFICATION,
        note=f"hub {EMAIL}",
        public=False,
    )
    memory_app.close_case(TECH_JKT, created.id, 4, outcome=Outcome.ANSWERED, answer=f"ke {EMAIL}")
    assert EMAIL.encode() not in _stored(memory_app)
    history = memory_app.history(TECH_JKT, created.id)
    assert history[3].data["note"] == f"hub {EMAIL}"
    assert memory_app.case(TECH_JKT, created.id).personal.answer == f"ke {EMAIL}"


def _anonymous_case_routed(app):
    created = app.file_case(INTAKE, new_case(reporter=REPORTER, anonymous=True))
    app.acknowledge(INTAKE, created.id, 1, message="diterima")
    app.route(INTAKE, created.id, 2, to_unit="BBPOM-JAKARTA", note="periksa")
    return created


def test_an_anonymous_reporter_never_reaches_the_routed_units_officers(memory_app) -> None:
    created = _anonymous_case_routed(memory_app)
    theirs = memory_app.case(TECH_JKT, created.id).personal
    assert theirs.reporter is None and theirs.reporter_hidden == "anonymous"
    assert theirs.description  # the complaint itself is theirs to handle
    assert memory_app.history(TECH_JKT, created.id)[0].data["reporter"] == REDACTED
    assert memory_app.case(AUDITOR, created.id).personal.reporter_hidden == "anonymous"
    assert memory_app.case(INTAKE, created.id).personal.reporter == REPORTER
    assert memory_app.case(HEAD, created.id).personal.reporter == REPORTER  # serves the intake
    assert memory_app.history(INTAKE, created.id)[0].data["reporter"]["email"] == EMAIL


def test_history_never_shows_a_ciphertext(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case(reporter=REPORTER))
    [received] = memory_app.history(INTAKE, created.id)
    text = json.dumps(received.data, default=str)
    assert "ciphertext" not in text and "nonce" not in text and "match" not in text


def test_an_admin_erases_a_reporter_once_and_the_case_still_reads(memory_app) -> None:
    created = _anonymous_case_routed(memory_app)
    erased = memory_app.erase_reporter(ADMIN, created.id, 3, reason="permintaan pelapor")
    assert erased.version == 4
    shown = memory_app.case(INTAKE, created.id).personal
    assert (shown.reporter, shown.reporter_hidden, shown.description) == (None, "erased", ERASED)
    history = memory_app.history(INTAKE, created.id)
    assert history[0].data["reporter"] == ERASED and history[0].data["description"] == ERASED
    assert history[-1].type == "ReporterErased" and history[-1].actor.sub == "admin"
    assert set(history[-1].data) == {"reason"}
    with pytest.raises(TransitionNotAllowed):
        memory_app.erase_reporter(ADMIN, created.id, 4, reason="lagi")
    # Work goes on: a later note is sealed under the case's fresh key and reads back.
    memory_app.follow_up(
        TECH_JKT, created.id, 4, action=FollowUpAction.OTHER, note="lanjut", public=False
    )
    assert memory_app.history(TECH_JKT, created.id)[-1].data["note"] == "lanjut"


def test_only_an_admin_erases_and_with_if_match(memory_app) -> None:
    created = memory_app.file_case(INTAKE, new_case(reporter=REPORTER))
    with pytest.raises(Forbidden):
        memory_app.erase_reporter(HEAD, created.id, 1, reason="x")
    with pytest.raises(NotFound):  # a case the caller cannot see stays hidden
        memory_app.erase_reporter(TECH_JKT, created.id, 1, reason="x")
    with pytest.raises(PreconditionRequired):
        memory_app.erase_reporter(ADMIN, created.id, None, reason="x")
    with pytest.raises(NotFound):
        memory_app.erase_reporter(ADMIN, uuid4(), 1, reason="x")


def test_reads_of_confidential_and_wbs_cases_are_logged_and_others_are_not(memory_app) -> None:
    plain = memory_app.file_case(INTAKE, new_case())
    secret = memory_app.file_case(INTAKE, new_case(confidential=True))
    wbs_officer = officer(Role.WBS_OFFICER, sub="wbs")
    wbs = memory_app.file_case(wbs_officer, new_case(channel=Channel.WBS))
    memory_app.case(INTAKE, plain.id)
    memory_app.case(INTAKE, secret.id, route="GET case")
    memory_app.history(wbs_officer, wbs.id, route="GET history")
    memory_app.case(wbs_officer, wbs.id, as_of_version=1, route="GET as of")
    entries, _ = memory_app.access_log_entries(ADMIN, None, 0, 10)
    assert [(e.complaint_id, e.sub, e.route) for e in entries] == [
        (secret.id, "siti", "GET case"),
        (wbs.id, "wbs", "GET history"),
        (wbs.id, "wbs", "GET as of"),
    ]
    assert entries[0].roles == ("intake_officer",)
    later, _ = memory_app.access_log_entries(ADMIN, wbs.id, 2, 10)
    assert [e.seq for e in later] == [3]
    # an auditor without a grant sees the confidential case's read, not the WBS case's
    ungranted, _ = memory_app.access_log_entries(AUDITOR, None, 0, 10)
    assert [e.complaint_id for e in ungranted] == [secret.id]
    granted, _ = memory_app.access_log_entries(AUDITOR.with_grants(["*"]), None, 0, 10)
    assert len(granted) == 3
    first, next_after = memory_app.access_log_entries(ADMIN, None, 0, 2)
    assert len(first) == 2 and next_after == first[-1].seq
    with pytest.raises(Forbidden):
        memory_app.access_log_entries(INTAKE, None, 0, 10)


def test_the_associated_data_names_case_and_field() -> None:
    case_id = uuid4()
    assert associated_data(case_id, "note") == f"aduan:{case_id}:note".encode()
