"""The SP4N-LAPOR! connector in memory: mapping, the outbox projection, backoff, the sender."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.complaints import IDEMPOTENCY_NAMESPACE, Complaints
from application.lapor import (
    ConnectorRejected,
    ConnectorUnavailable,
    Forwarding,
    LaporImporter,
    LaporReport,
    LaporSender,
    OutboxEntry,
    ReportPage,
    StatusUpdate,
    backoff,
    case_from_report,
    category_of,
    import_key,
    kind_of,
)
from domain.errors import InvalidCommand
from domain.values import Reporter
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from infrastructure.lapor_http import HttpLaporGateway, report_from_wire, update_to_wire
from projections.lapor.outbox import LaporOutboxProjection, MemoryOutboxView, message_key
from projections.runner import Binding, Runner
from tests.support import HEAD, INTAKE, MONDAY, POPO, TECH_JKT, build_complaints, new_case

REPORTER = Reporter(name="Wati", email="wati@example.id", phone="0812345678")


def report(tracking_id: str = "LAP-1", **overrides) -> LaporReport:
    fields = {
        "tracking_id": tracking_id,
        "title": "Kosmetik tanpa izin edar",
        "content": "Krim pemutih dijual di pasar.",
        "classification": "pengaduan",
        "category": "Kosmetik",
        "submitted_at": MONDAY - timedelta(days=1),
        "anonymous": False,
        "confidential": False,
        "reporter": REPORTER,
    }
    fields.update(overrides)
    return LaporReport(**fields)


# --- mapping ----------------------------------------------------------------------------------


def test_lapor_classifications_map_to_our_kinds() -> None:
    assert kind_of("pengaduan") == Kind.COMPLAINT
    assert kind_of("Aspirasi") == Kind.SUGGESTION
    assert kind_of("permintaan informasi") == Kind.INFORMATION_REQUEST
    assert kind_of("something new") == Kind.COMPLAINT


def test_lapor_categories_map_to_ours_and_unknown_ones_to_lainnya() -> None:
    assert category_of("Kosmetik") == Category.KOSMETIK
    assert category_of("obat_tradisional") == Category.OBAT_TRADISIONAL
    assert category_of("Pangan Olahan") == Category.PANGAN_OLAHAN
    assert category_of("Infrastruktur Jalan") == Category.LAINNYA
    assert category_of(None) == Category.LAINNYA


def test_a_report_becomes_a_lapor_case_with_its_tracking_id() -> None:
    new = case_from_report(report("LAP-9", confidential=True), "ULPK-PUSAT", MONDAY)
    assert new.channel == Channel.LAPOR
    assert new.external_ref == "LAP-9"
    assert new.category == Category.KOSMETIK
    assert new.confidential is True
    assert new.reporter == REPORTER
    assert new.received_at == MONDAY - timedelta(days=1)


def test_a_report_is_received_when_it_was_assigned_to_the_agency() -> None:
    assigned = MONDAY - timedelta(hours=2)
    new = case_from_report(report(assigned_at=assigned), "ULPK-PUSAT", MONDAY)
    assert new.received_at == assigned
    read = report_from_wire(
        {
            "tracking_id": "LAP-A",
            "submitted_at": "2026-11-01T10:00:00+07:00",
            "assigned_at": "2026-11-02T08:00:00+07:00",
        }
    )
    assert read.assigned_at is not None and read.assigned_at.hour == 8


def test_a_report_dated_in_the_future_or_before_2000_is_received_now() -> None:
    # The domain refuses a received_at before 2000 (near year 1 it stopped every read model):
    # a peer's odd date must not stop the import.
    for odd in (datetime(1, 1, 2, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=UTC)):
        assert case_from_report(report(assigned_at=odd), "ULPK-PUSAT", MONDAY).received_at == MONDAY
    later = MONDAY + timedelta(days=1)
    assert case_from_report(report(assigned_at=later), "ULPK-PUSAT", MONDAY).received_at == MONDAY


def test_a_report_from_the_future_is_received_now_and_whistle_blowing_is_confidential() -> None:
    new = case_from_report(
        report(submitted_at=MONDAY + timedelta(hours=1), classification="whistle_blowing"),
        "ULPK-PUSAT",
        MONDAY,
    )
    assert new.received_at == MONDAY
    assert new.confidential is True


def test_an_empty_report_still_becomes_a_case() -> None:
    new = case_from_report(report(title=" ", content=""), "ULPK-PUSAT", MONDAY)
    assert new.subject.strip() and new.description.strip()


def test_the_wire_format_reads_a_report_and_writes_an_update() -> None:
    read = report_from_wire(
        {
            "tracking_id": "LAP-7",
            "title": "Obat keras dijual bebas",
            "content": "Di apotek X.",
            "classification": "pengaduan",
            "category": "Obat",
            "submitted_at": "2026-11-01T10:00:00+07:00",
            "anonymous": True,
            "confidential": False,
            "reporter": None,
        }
    )
    assert read.tracking_id == "LAP-7" and read.anonymous and read.reporter is None
    with pytest.raises(ValueError):
        report_from_wire({"tracking_id": "X", "submitted_at": "2026-11-01T10:00:00"})
    body = update_to_wire(StatusUpdate("k", "LAP-7", "status", "routed", None, None, MONDAY))
    assert body == {"type": "status", "status": "routed", "occurred_at": MONDAY.isoformat()}


# --- backoff ----------------------------------------------------------------------------------


def test_backoff_doubles_from_the_first_wait_up_to_the_longest() -> None:
    first, longest = timedelta(seconds=10), timedelta(hours=1)
    waits = [backoff(n, first, longest) for n in range(1, 12)]
    assert waits[:4] == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert waits[-1] == longest


@given(st.integers(min_value=0, max_value=10_000))
def test_backoff_never_shrinks_and_never_passes_the_cap(attempts: int) -> None:
    first, longest = timedelta(seconds=3), timedelta(minutes=30)
    now, after = backoff(attempts, first, longest), backoff(attempts + 1, first, longest)
    assert first <= now <= after <= longest


# --- the domain's forward target --------------------------------------------------------------


def test_a_forward_target_is_only_allowed_with_the_forwarded_outcome(memory_app) -> None:
    case_id = memory_app.file_case(INTAKE, new_case()).id
    memory_app.acknowledge(INTAKE, case_id, 1, message="Diterima")
    with pytest.raises(InvalidCommand):
        memory_app.close_case(
            INTAKE, case_id, 2, outcome=Outcome.ANSWERED, answer="x", forward_to="KEMENKES"
        )
    result = memory_app.close_case(
        INTAKE,
        case_id,
        2,
        outcome=Outcome.FORWARDED,
        answer="Bukan wewenang",
        forward_to="KEMENKES",
    )
    closed = list(memory_app.events.get(case_id))[-1]
    assert result.status == "closed" and closed.forward_to == "KEMENKES"


# --- a fake LAPOR! in process -----------------------------------------------------------------


class InProcessLapor:
    """The gateway port in memory: assigned reports, received messages, an on/off switch."""

    def __init__(self) -> None:
        self.reports: list[LaporReport] = []
        self.received: dict[str, StatusUpdate | Forwarding] = {}
        self.times: dict[str, int] = {}
        self.down = False
        self.refuse: set[str] = set()

    def assigned_reports(self, cursor: str | None, limit: int) -> ReportPage:
        if self.down:
            raise ConnectorUnavailable("down")
        start = int(cursor or 0)
        page = self.reports[start : start + limit]
        return ReportPage(page, str(start + len(page)), start + len(page) < len(self.reports))

    def _take(self, message: StatusUpdate | Forwarding) -> None:
        if self.down:
            raise ConnectorUnavailable("down")
        if message.tracking_id in self.refuse:
            raise ConnectorRejected("HTTP 404 no such report")
        self.received.setdefault(message.idempotency_key, message)
        self.times[message.idempotency_key] = self.times.get(message.idempotency_key, 0) + 1

    def send_update(self, update: StatusUpdate) -> None:
        self._take(update)

    def forward(self, forwarding: Forwarding) -> None:
        self._take(forwarding)


class MemoryState:
    def __init__(self) -> None:
        self.cursors: dict[str, str | None] = {}
        self.errors: list[str] = []

    def cursor(self, name: str) -> str | None:
        return self.cursors.get(name)

    def polled(self, name: str, cursor: str | None, at: datetime) -> None:
        self.cursors[name] = cursor

    def poll_failed(self, name: str, at: datetime, error: str) -> None:
        self.errors.append(error)


class MemoryOutbox:
    """The sender's side of the outbox over the projection's memory view."""

    def __init__(self, view: MemoryOutboxView) -> None:
        self.view = view
        self.state: dict[str, OutboxEntry] = {}
        self.done: dict[str, str] = {}

    def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        for m in self.view.messages.values():
            self.state.setdefault(
                m.key,
                OutboxEntry(
                    m.key, m.seq, m.case_id, m.version, m.tracking_id, m.kind, 0, m.created_at
                ),
            )
        open_ = sorted(
            (e for k, e in self.state.items() if k not in self.done), key=lambda e: e.seq
        )
        first: dict = {}
        for entry in open_:
            first.setdefault(entry.case_id, entry)
        due = [e for e in first.values() if e.next_attempt_at <= now]
        return sorted(due, key=lambda e: (e.next_attempt_at, e.seq))[:limit]

    def delivered(self, key: str, at: datetime) -> None:
        self.done[key] = "delivered"

    def failed(self, key: str, next_attempt_at: datetime, error: str) -> None:
        entry = self.state[key]
        self.state[key] = replace(
            entry, attempts=entry.attempts + 1, next_attempt_at=next_attempt_at
        )

    def rejected(self, key: str, at: datetime, error: str) -> None:
        self.done[key] = "rejected"


class Harness:
    def __init__(self, app: Complaints, clock: ManualClock) -> None:
        self.app = app
        self.clock = clock
        self.lapor = InProcessLapor()
        self.state = MemoryState()
        self.view = MemoryOutboxView()
        self.outbox = MemoryOutbox(self.view)
        self.importer = LaporImporter(app, self.lapor, self.state, intake_unit="ULPK-PUSAT")
        self.sender = LaporSender(app, self.lapor, self.outbox)
        self.runner = Runner(ApplicationLog(app), [Binding(LaporOutboxProjection(), self.view)])

    def project(self) -> None:
        self.runner.catch_up()

    def case_of(self, tracking_id: str) -> UUID:
        return uuid5(IDEMPOTENCY_NAMESPACE, f"lapor-connector\x1f{import_key(tracking_id)}")


@pytest.fixture
def harness() -> Iterator[Harness]:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    yield Harness(app, clock)
    app.close()


def test_importing_the_same_reports_again_files_each_once(harness: Harness) -> None:
    harness.lapor.reports = [report("LAP-1"), report("LAP-2")]
    first = harness.importer.poll()
    harness.state.cursors.clear()  # the cursor lost: everything is listed again
    again = harness.importer.poll()
    assert (first.imported, first.already) == (2, 0)
    assert (again.imported, again.already) == (0, 2)
    case = harness.app.repository.get(harness.case_of("LAP-1"))
    assert case.channel == Channel.LAPOR and case.external_ref == "LAP-1"
    assert case.received_by.sub == "lapor-connector"


def test_two_importers_at_once_file_each_report_once(harness: Harness) -> None:
    harness.lapor.reports = [report(f"LAP-{n}") for n in range(20)]
    other = LaporImporter(harness.app, harness.lapor, MemoryState(), intake_unit="ULPK-PUSAT")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(importer: LaporImporter) -> None:
        barrier.wait()
        for _ in range(3):  # a report in flight in the other thread is retried on the next poll
            try:
                importer.poll()
                return
            except ConnectorUnavailable:
                continue
            except BaseException as error:
                errors.append(error)
                return

    threads = [threading.Thread(target=run, args=(i,)) for i in (harness.importer, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = {harness.case_of(f"LAP-{n}") for n in range(20)}
    assert all(harness.app.repository.get(i).external_ref for i in ids)
    log = ApplicationLog(harness.app).read(0, 1000)
    created = [e for e in log if e.topic.endswith("Complaint.Received")]
    assert len(created) == 20


def test_a_failed_poll_keeps_the_cursor_and_says_why(harness: Harness) -> None:
    harness.lapor.down = True
    with pytest.raises(ConnectorUnavailable):
        harness.importer.poll()
    assert harness.state.cursor("lapor") is None and "down" in harness.state.errors[0]


def _lifecycle(harness: Harness) -> None:
    app = harness.app
    harness.lapor.reports = [report("LAP-1")]
    harness.importer.poll()
    case_id = harness.case_of("LAP-1")
    app.acknowledge(INTAKE, case_id, 1, message="Laporan Anda kami terima.")
    app.route(INTAKE, case_id, 2, to_unit="BBPOM-JAKARTA", note="catatan rute", assignee="budi")
    app.follow_up(
        TECH_JKT,
        case_id,
        3,
        action=FollowUpAction.COORDINATION,
        note="catatan internal",
        public=False,
    )
    app.follow_up(
        TECH_JKT,
        case_id,
        4,
        action=FollowUpAction.INSPECTION,
        note="Toko akan diperiksa.",
        public=True,
    )
    app.close_case(TECH_JKT, case_id, 5, outcome=Outcome.SUBSTANTIATED, answer="Produk ditarik.")
    app.reopen(HEAD, case_id, 6, reason="keberatan pelapor")


def test_the_outbox_queues_status_changes_and_public_follow_ups_only(harness: Harness) -> None:
    _lifecycle(harness)
    harness.project()
    kinds = [m.kind for m in sorted(harness.view.messages.values(), key=lambda m: m.seq)]
    assert kinds == ["acknowledged", "routed", "follow_up", "closed", "reopened"]
    case_id = harness.case_of("LAP-1")
    assert message_key(case_id, 5) in harness.view.messages  # the public follow-up
    assert message_key(case_id, 4) not in harness.view.messages  # the internal one


def test_a_case_from_another_channel_queues_nothing(harness: Harness) -> None:
    case_id = harness.app.file_case(INTAKE, new_case(external_ref="LAP-X")).id
    harness.app.acknowledge(INTAKE, case_id, 1, message="Diterima")
    harness.project()
    assert harness.view.messages == {} and harness.view.cases == {}


def test_taking_the_same_events_in_twice_queues_each_message_once(harness: Harness) -> None:
    _lifecycle(harness)
    projection = LaporOutboxProjection()
    events = ApplicationLog(harness.app).read(0, 100)
    once = projection.process(events, harness.view)
    harness.view.commit(once, events[-1].position)
    twice = projection.process(events, harness.view)
    assert [m.key for m in once.messages] == [m.key for m in twice.messages]
    harness.view._position = 0  # a crash before the position moved: the batch comes again
    harness.view.commit(twice, events[-1].position)
    assert len(harness.view.messages) == len(once.messages) == 5


def test_the_sender_delivers_each_message_once_with_nothing_internal(harness: Harness) -> None:
    _lifecycle(harness)
    harness.project()
    result = harness.sender.drain(MONDAY)
    assert result.delivered == 5
    sent = list(harness.lapor.received.values())
    assert [getattr(m, "status", None) for m in sent] == [
        "acknowledged",
        "routed",
        "in_follow_up",
        "closed",
        "reopened",
    ]
    assert sent[2].message == "Toko akan diperiksa." and sent[3].message == "Produk ditarik."
    assert sent[1].message is None  # no routing note
    text = repr(sent)
    for private in ("catatan", "budi", "siti", "kepala", "keberatan"):
        assert private not in text
    assert harness.sender.drain(MONDAY).delivered == 0
    assert set(harness.lapor.times.values()) == {1}


def test_while_lapor_is_down_messages_wait_in_order_and_then_go_once(harness: Harness) -> None:
    _lifecycle(harness)
    harness.project()
    harness.lapor.down = True
    first = harness.sender.drain(MONDAY)
    assert (first.delivered, first.failed) == (0, 1)  # stops at the first failure
    harness.lapor.down = False
    assert harness.sender.drain(MONDAY).delivered == 0  # the first message waits its backoff
    later = harness.sender.drain(MONDAY + timedelta(seconds=10))
    assert later.delivered == 5
    assert set(harness.lapor.times.values()) == {1}
    statuses = [getattr(m, "status", None) for m in harness.lapor.received.values()]
    assert statuses[0] == "acknowledged" and statuses[-1] == "reopened"


def test_a_forwarded_close_goes_out_as_a_forward(harness: Harness) -> None:
    harness.lapor.reports = [report("LAP-F")]
    harness.importer.poll()
    case_id = harness.case_of("LAP-F")
    harness.app.acknowledge(INTAKE, case_id, 1, message="Diterima")
    harness.app.close_case(
        INTAKE,
        case_id,
        2,
        outcome=Outcome.FORWARDED,
        answer="Bukan wewenang BPOM.",
        forward_to="KEMENKES",
    )
    harness.project()
    harness.sender.drain(MONDAY)
    forwarded = [m for m in harness.lapor.received.values() if isinstance(m, Forwarding)]
    assert len(forwarded) == 1
    assert forwarded[0].target_agency == "KEMENKES" and forwarded[0].tracking_id == "LAP-F"


def test_a_refused_message_is_given_up_and_the_next_one_goes(harness: Harness) -> None:
    _lifecycle(harness)
    harness.project()
    harness.lapor.refuse = {"LAP-1"}
    result = harness.sender.drain(MONDAY)
    assert result.rejected == 5 and result.failed == 0
    assert set(harness.outbox.done.values()) == {"rejected"}
    assert harness.lapor.received == {}


def test_a_closed_event_stored_before_forward_to_existed_still_loads(memory_app) -> None:
    case_id = memory_app.file_case(INTAKE, new_case()).id
    memory_app.acknowledge(INTAKE, case_id, 1, message="Diterima")
    memory_app.close_case(INTAKE, case_id, 2, outcome=Outcome.ANSWERED, answer="Jawaban")
    closed = list(memory_app.events.get(case_id))[-1]
    stored = memory_app.mapper.to_stored_event(closed)
    state = memory_app.mapper.transcoder.decode(stored.state)
    del state["forward_to"]  # as an event recorded by the previous release
    old = replace(stored, state=memory_app.mapper.transcoder.encode(state))
    loaded = memory_app.mapper.to_domain_event(old)
    assert loaded.forward_to is None and loaded.outcome == "answered"


def test_the_gateway_refuses_plain_http_except_on_loopback() -> None:
    with pytest.raises(ValueError):
        HttpLaporGateway("http://lapor.example.id/api", "token")
    assert HttpLaporGateway("http://127.0.0.1:9/api", "token").base_url.endswith("/api")
    assert HttpLaporGateway("https://lapor.example.id/api/", "token").base_url.endswith("/api")


def test_a_peer_that_says_more_without_moving_on_is_not_read_forever(harness: Harness) -> None:
    stuck = ReportPage([report("LAP-S")], None, True)
    harness.lapor.assigned_reports = lambda cursor, limit: stuck  # type: ignore[method-assign]
    assert harness.importer.poll().imported == 1


def test_an_activity_item_is_read_from_the_assumed_wire_format() -> None:
    from infrastructure.lapor_http import activity_from_wire

    item = activity_from_wire(
        {
            "activity_id": " ACT-1 ",
            "tracking_id": "LAP-1",
            "type": "comment",
            "author": {"type": "Reporter"},
            "text": "Foto terlampir.",
            "at": "2026-11-03T09:00:00+07:00",
        }
    )
    assert (item.activity_id, item.author, item.text) == ("ACT-1", "reporter", "Foto terlampir.")
    no_author = activity_from_wire(
        {"activity_id": "A", "tracking_id": "T", "type": "comment", "at": "2026-11-03T09:00Z"}
    )
    assert no_author.author == ""  # nobody: never taken for the reporter
    for broken in (
        {"activity_id": "A", "tracking_id": "T", "at": "2026-11-03T09:00:00"},  # no offset
        {"activity_id": "", "tracking_id": "T", "at": "2026-11-03T09:00:00Z"},
        {"tracking_id": "T", "at": "2026-11-03T09:00:00Z"},
    ):
        with pytest.raises((KeyError, ValueError)):
            activity_from_wire(broken)
