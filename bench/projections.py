"""Projections benchmark: rebuild every read model vs the stock ProjectionRunner, same run."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import heapq
import os
import platform
import pstats
import queue
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from interfaces.bootstrap import Container

# This file is named like aduan's ``projections`` package: run as a script, its folder would be
# first on sys.path and shadow the package. Put the project root there instead.
BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == BENCH_DIR:
    sys.path[0] = str(BENCH_DIR.parent)

from domain.complaint import Complaint  # noqa: E402
from domain.tracking_index import TrackingNumberIndex  # noqa: E402
from domain.tracking_number import RANDOM_BYTES, tracking_number_from  # noqa: E402
from domain.values import Actor, Reporter  # noqa: E402
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome  # noqa: E402

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
EVENTS_TABLE = "aduan_events"
STOCK_TABLE = "stock_case_events"
HOUR = timedelta(hours=1)
WIB = timedelta(hours=7)  # arrivals follow office hours in Jakarta
ALERTS = 1001  # GET /v1/sla/alerts asks the view for its default limit (1000) + 1

# --- the mix of cases ---------------------------------------------------------------------
# Shares loosely follow published ULPK/HALOBPOM recaps: mostly information requests about
# registration and products, over phone and WhatsApp; a few whistle-blowing reports.

KINDS = {"information_request": 55, "complaint": 38, "suggestion": 7}
CHANNELS = {
    "whatsapp": 22,
    "phone": 18,
    "web": 14,
    "email": 10,
    "social_media": 7,
    "walk_in": 6,
    "live_chat": 5,
    "lapor": 5,
    "mobile_app": 4,
    "sms": 3,
    "letter": 2,
    "mobile_unit": 1,
    "suggestion_box": 1,
    "fax": 0.2,
    "wbs": 0.8,
}
CATEGORIES = {
    "information_request": {
        "yanblik_registrasi": 30,
        "pangan_olahan": 16,
        "kosmetik": 12,
        "obat": 10,
        "yanblik_sertifikasi": 9,
        "yanblik_sistem_elektronik": 8,
        "obat_tradisional": 5,
        "suplemen_kesehatan": 4,
        "lainnya": 6,
    },
    "complaint": {
        "kosmetik": 24,
        "pangan_olahan": 22,
        "obat_tradisional": 12,
        "obat": 11,
        "suplemen_kesehatan": 7,
        "yanblik_petugas": 6,
        "yanblik_sistem_elektronik": 6,
        "yanblik_registrasi": 6,
        "etika_pegawai": 1.5,
        "lainnya": 4,
    },
    "suggestion": {
        "yanblik_sistem_elektronik": 30,
        "yanblik_registrasi": 20,
        "yanblik_petugas": 15,
        "pangan_olahan": 10,
        "lainnya": 25,
    },
}
# Who takes a case over from the central unit, by category (codes missing from the shipped
# units are dropped, so a changed units.json never breaks the generator).
ROUTE_TO = {
    "obat": ["DIT-PENGAWASAN-DISTRIBUSI-OBAT", "DIT-REG-OBAT", "DIT-PENGAWASAN-PRODUKSI-OBAT"],
    "obat_tradisional": ["DIT-PENGAWASAN-OTSK", "DIT-REG-OTSKK"],
    "suplemen_kesehatan": ["DIT-PENGAWASAN-OTSK", "DIT-REG-OTSKK"],
    "kosmetik": ["DIT-PENGAWASAN-KOSMETIK", "DIT-REG-OTSKK"],
    "pangan_olahan": ["DIT-PENGAWASAN-PEREDARAN-PANGAN", "DIT-REG-PANGAN"],
    "yanblik_registrasi": ["DIT-REG-PANGAN", "DIT-REG-OBAT", "DIT-REG-OTSKK"],
    "yanblik_sertifikasi": ["DIT-PENGAWASAN-PRODUKSI-PANGAN", "DIT-PENGAWASAN-PRODUKSI-OBAT"],
    "yanblik_sistem_elektronik": ["PUSAT-DATIN"],
    "yanblik_petugas": ["INSPEKTORAT-UTAMA"],
    "etika_pegawai": ["INSPEKTORAT-UTAMA"],
    "lainnya": ["BIRO-KERJA-SAMA-HUMAS", "BIRO-HUKUM-ORGANISASI"],
}
BUSY_UNITS = {  # intake shares of the central unit and the busiest regional offices
    "ULPK-PUSAT": 38,
    "BBPOM-JAKARTA": 7,
    "BBPOM-BANDUNG": 5,
    "BBPOM-SURABAYA": 5,
    "BBPOM-SEMARANG": 3,
    "BBPOM-MEDAN": 3,
}
OTHER_UNITS_SHARE = 39  # spread over the other BBPOM (x3), BPOM (x2) and Loka (x1) offices
SUBJECTS = {
    "information_request": [
        "Cara cek nomor izin edar",
        "Status permohonan registrasi",
        "Persyaratan sertifikat CPPOB",
        "Kendala akun e-registration",
        "Informasi label pangan olahan",
    ],
    "complaint": [
        "Krim pemutih tanpa izin edar",
        "Minuman kemasan berbau tidak wajar",
        "Jamu mengandung bahan kimia obat",
        "Obat kedaluwarsa dijual di apotek",
        "Iklan suplemen menyesatkan",
    ],
    "suggestion": ["Usulan fitur aplikasi BPOM Mobile", "Perbaikan layanan loket"],
}
STALLED = 0.07  # share of cases that stop part-way and stay open
FOLLOW_UPS = ["clarification", "coordination", "interim_answer", "other"]
COMPLAINT_OUTCOMES = {"substantiated": 40, "not_substantiated": 30, "forwarded": 15, "withdrawn": 5}


def weighted(table: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = list(table)
    total = 0.0
    cumulative = []
    for key in keys:
        total += table[key]
        cumulative.append(total)
    return keys, cumulative


# --- the generator ------------------------------------------------------------------------


@dataclass
class Generated:
    events: int = 0
    cases: int = 0
    open_cases: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    copy_seconds: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    topics: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    intake: Counter[str] = field(default_factory=Counter)


class CopyWriter(threading.Thread):
    """COPYs chunks of stored events in a thread of its own, in order, while the next is made."""

    def __init__(self, database_url: str, table: str) -> None:
        super().__init__(name="copy-writer", daemon=True)
        self.url = database_url
        self.sql = (
            f"COPY {table} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        )
        self.chunks: queue.Queue[list[Any] | None] = queue.Queue(maxsize=2)  # bounds memory
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.url) as conn:
                while (chunk := self.chunks.get()) is not None:
                    started = time.perf_counter()
                    with conn.cursor() as cursor, cursor.copy(self.sql) as copy:
                        copy.set_types(["uuid", "int8", "text", "bytea"])
                        for row in chunk:
                            copy.write_row(row)
                    conn.commit()  # one connection, chunks in order: ids follow recorded time
                    self.seconds += time.perf_counter() - started
        except BaseException as error:
            self.error = error
            while self.chunks.get() is not None:  # unblock the producer, then stop
                pass

    def put(self, chunk: list[Any]) -> None:
        if self.error is not None:
            raise RuntimeError("COPY failed") from self.error
        self.chunks.put(chunk)

    def finish(self) -> None:
        self.chunks.put(None)
        self.join()
        if self.error is not None:
            raise RuntimeError("COPY failed") from self.error


class CaseFactory:
    """Draws cases and drives each through a lifecycle with the domain's own commands."""

    def __init__(self, rng: random.Random, policy_version: int) -> None:
        from domain.units import UnitDirectory
        from infrastructure.reference_data import shipped_units

        self.rng = rng
        self.policy_version = policy_version
        units: UnitDirectory = shipped_units()
        self.units = units
        intake = {code: share for code, share in BUSY_UNITS.items() if code in units}
        others = [
            u
            for u in units.values()
            if u.kind in ("bbpom", "bpom", "loka") and u.code not in intake
        ]
        weight = {"bbpom": 3.0, "bpom": 2.0, "loka": 1.0}
        spread = sum(weight[u.kind] for u in others) or 1.0
        for unit in others:
            intake[unit.code] = OTHER_UNITS_SHARE * weight[unit.kind] / spread
        self.intake = weighted(intake)
        self.kinds = weighted(KINDS)
        self.channels = weighted(CHANNELS)
        self.categories = {kind: weighted(table) for kind, table in CATEGORIES.items()}
        self.outcomes = weighted(COMPLAINT_OUTCOMES)
        self.route_to = {
            category: [code for code in codes if code in units] or ["ULPK-PUSAT"]
            for category, codes in ROUTE_TO.items()
        }
        self.wbs_unit = "WBS-PUSAT" if "WBS-PUSAT" in units else "ULPK-PUSAT"
        self.regional = [u.code for u in units.values() if u.kind in ("bbpom", "bpom", "loka")]
        self.recent: list[UUID] = []  # for the occasional duplicate

    def pick(self, table: tuple[list[str], list[float]]) -> str:
        keys, cumulative = table
        return self.rng.choices(keys, cum_weights=cumulative)[0]

    def uuid(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def receive(self, at: datetime) -> tuple[Complaint, Any]:
        rng = self.rng
        kind = self.pick(self.kinds)
        channel = self.pick(self.channels)
        if kind == "suggestion" and rng.random() < 0.3:
            channel = "suggestion_box"
        category = self.pick(self.categories[kind])
        unit = self.wbs_unit if channel == "wbs" else self.pick(self.intake)
        anonymous = channel == "wbs" or rng.random() < 0.08
        reporter = None
        if not anonymous:
            n = rng.randrange(1_000_000)
            reporter = Reporter(
                name=f"Pelapor {n}",
                email=f"pelapor{n}@example.id" if rng.random() < 0.7 else None,
                phone=f"+62 812 {n:07d}" if rng.random() < 0.8 else None,
            )
        # Letters and walk-ins are often recorded after the day they came in.
        received_at = at - timedelta(hours=rng.uniform(2, 60)) if channel == "letter" else at
        case_id = self.uuid()
        number = tracking_number_from(rng.randbytes(RANDOM_BYTES))
        case = Complaint.receive(
            id=case_id,
            tracking_number=number,
            kind=Kind(kind),
            channel=Channel(channel),
            category=Category(category),
            subject=rng.choice(SUBJECTS[kind]),
            description="Uraian pengaduan dari pelapor, beberapa kalimat tentang produk, tempat "
            "pembelian dan keluhan yang dialami. " * rng.randint(1, 3),
            reporter=reporter,
            anonymous=anonymous,
            confidential=rng.random() < 0.05,
            needs_inspection=kind == "complaint" and rng.random() < 0.15,
            intake_unit=unit,
            received_at=received_at,
            external_ref=f"LAPOR-{rng.randrange(10**8):08d}" if channel == "lapor" else None,
            policy_version=self.policy_version,
            request_fingerprint=None,
            actor=Actor(f"officer-{rng.randrange(40)}", unit),
            at=at,
        )
        index = TrackingNumberIndex.assign(number, case_id, at)
        self.recent.append(case_id)
        if len(self.recent) > 200:
            del self.recent[:100]
        return case, index

    def hours(self, mean: float) -> timedelta:
        return HOUR * min(self.rng.expovariate(1.0 / mean), mean * 6) + timedelta(minutes=5)

    def lifecycle(self, case: Complaint) -> Generator[datetime, None, None]:
        """Yields the instant of the next step; resumed at that instant, it takes the step."""
        rng = self.rng
        at = case.created_on

        def actor() -> Actor:
            return Actor(f"officer-{rng.randrange(60)}", case.handling_unit)

        # Acknowledge: usually within a day, sometimes late (past 3 working days).
        at += HOUR * rng.uniform(72, 200) if rng.random() < 0.06 else self.hours(18)
        yield at
        case.acknowledge(message="Terima kasih, pengaduan Anda kami terima.", actor=actor(), at=at)

        # First-contact resolution: answered straight from the intake desk.
        first_contact = 0.35 if case.kind.value == "information_request" else 0.05
        if rng.random() < first_contact:
            at += self.hours(6)
            yield at
            case.close(outcome=Outcome.ANSWERED, answer="Dijawab langsung.", actor=actor(), at=at)
            yield from self.maybe_reopen(case, at)
            return

        # Routed to whoever handles it; sometimes routed on a second time.
        for hop in range(2 if rng.random() < 0.15 else 1):
            at += self.hours(20)
            yield at
            to_unit, assignee = self.destination(case, hop)
            case.route(
                to_unit=to_unit,
                note="Mohon ditindaklanjuti.",
                assignee=assignee,
                actor=actor(),
                at=at,
            )

        # Follow-ups; some ask the complainant for missing data.
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 4))):
            at += self.hours(40)
            yield at
            if not case.waiting_for_complainant and rng.random() < 0.15:
                case.follow_up(
                    action=FollowUpAction.REQUEST_DATA,
                    note="Mohon lengkapi data.",
                    public=True,
                    actor=actor(),
                    at=at,
                )
                if rng.random() < 0.2:  # never answers: archived after 10 working days
                    at += HOUR * rng.uniform(15 * 24, 25 * 24)
                    yield at
                    case.close(
                        outcome=Outcome.ARCHIVED_MISSING_DATA,
                        answer="Diarsipkan.",
                        actor=actor(),
                        at=at,
                    )
                    return
                at += self.hours(70)
                yield at
                case.record_complainant_reply(message="Data terlampir.", actor=complainant(), at=at)
                continue
            action = "inspection" if case.needs_inspection and rng.random() < 0.5 else None
            case.follow_up(
                action=FollowUpAction(action or rng.choice(FOLLOW_UPS)),
                note="Tindak lanjut.",
                public=rng.random() < 0.5,
                actor=actor(),
                at=at,
            )

        # Close: information within days, complaints within weeks, inspections within months.
        if case.kind.value == "information_request":
            at += self.hours(30)
        elif case.needs_inspection:
            at += self.hours(500)
        else:
            at += self.hours(150)
        yield at
        case.close(**self.outcome(case), actor=actor(), at=at)
        yield from self.maybe_reopen(case, at)

    def maybe_reopen(self, case: Complaint, at: datetime) -> Generator[datetime, None, None]:
        rng = self.rng
        if rng.random() >= 0.05:
            return
        actor = Actor(f"officer-{rng.randrange(60)}", case.handling_unit)
        at += HOUR * rng.uniform(48, 480)
        yield at
        case.reopen(reason="Pelapor belum puas dengan jawaban.", actor=actor, at=at)
        at += self.hours(40)
        yield at
        case.follow_up(
            action=FollowUpAction.CLARIFICATION,
            note="Klarifikasi ulang.",
            public=True,
            actor=actor,
            at=at,
        )
        at += self.hours(80)
        yield at
        case.close(outcome=Outcome.ANSWERED, answer="Jawaban lanjutan.", actor=actor, at=at)

    def destination(self, case: Complaint, hop: int) -> tuple[str, str | None]:
        rng = self.rng
        officer = f"officer-{rng.randrange(25)}"
        here = case.handling_unit
        if hop == 0 and here != "ULPK-PUSAT" and rng.random() < 0.6:
            return here, officer  # a regional office keeps it and names an officer
        if rng.random() < 0.25:
            target = rng.choice(self.regional)
        else:
            target = rng.choice(self.route_to[case.category.value])
        assignee = officer if rng.random() < 0.7 else None
        if target == here and assignee == case.assignee:  # the domain refuses a no-op routing
            assignee = f"officer-{rng.randrange(25, 50)}"
        return target, assignee

    def outcome(self, case: Complaint) -> dict[str, Any]:
        rng = self.rng
        if case.waiting_for_complainant and rng.random() < 0.5:
            return {"outcome": Outcome.ARCHIVED_MISSING_DATA, "answer": "Diarsipkan."}
        if rng.random() < 0.01 and self.recent and self.recent[0] != case.id:
            return {
                "outcome": Outcome.DUPLICATE,
                "answer": "Sama dengan laporan lain.",
                "duplicate_of": self.recent[0],
            }
        if case.kind.value == "complaint":
            return {"outcome": Outcome(self.pick(self.outcomes)), "answer": "Hasil tindak lanjut."}
        return {"outcome": Outcome.ANSWERED, "answer": "Informasi telah disampaikan."}


def complainant() -> Any:
    """The complainant's reply is recorded by no unit's officer."""
    return Actor("complainant", None)


def stall_budget(rng: random.Random) -> int:
    """How many steps a case takes: a few stall part-way (open, past their due dates)."""
    return rng.randint(0, 4) if rng.random() < STALLED else 1 << 30


def arrival_weight(at: datetime) -> float:
    """Relative arrival rate: office hours (WIB) on weekdays, much less at night and weekends."""
    local = at + WIB
    hour = local.hour
    day = 1.0 if local.weekday() < 5 else 0.3
    if 8 <= hour < 16:
        return day
    if 6 <= hour < 22:
        return 0.35 * day
    return 0.06 * day


def mean_arrival_weight() -> float:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    return statistics.fmean(arrival_weight(start + HOUR * h) for h in range(7 * 24))


class Generator_:  # noqa: N801 - "Generator" is taken by typing
    """Writes ``total`` events of cases arriving over ``days`` days, in recorded-time order."""

    def __init__(self, container: Container, total: int, days: float, seed: int) -> None:
        self.container = container
        self.total = total
        self.days = days
        self.seed = seed

    def events_per_case(self, policy_version: int, span: timedelta) -> float:
        """A pilot (on a random stream of its own): the events a case adds to the span, on average.

        A case arriving at a uniform time in the span keeps only the steps that fall before its
        end, so each step at ``offset`` after the arrival counts ``1 - offset / span``.
        """
        rng = random.Random(self.seed + 1)
        factory = CaseFactory(rng, policy_version)
        at = datetime(2025, 1, 6, 1, tzinfo=UTC)
        total = 0.0
        cases = 1500
        for _ in range(cases):
            case, _index = factory.receive(at)
            budget = stall_budget(rng)
            for _step in factory.lifecycle(case):
                budget -= 1
                if budget < 0:
                    break
            offsets = [e.timestamp - at for e in case.collect_events()]
            total += 1 + sum(max(0.0, 1 - o / span) for o in offsets)  # 1: the index event
        return total / cases

    def run(self, chunk_rows: int, progress: Callable[[int], None] | None = None) -> Generated:
        app = self.container.complaints
        policy_version = app.policies.current().version
        span = timedelta(days=self.days)
        per_case = self.events_per_case(policy_version, span)
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - span
        cases_needed = self.total / per_case
        # Arrivals: a Poisson process thinned by office hours, scaled to fill the span.
        peak_rate = cases_needed / (span.total_seconds() * mean_arrival_weight())  # per second

        rng = random.Random(self.seed)
        factory = CaseFactory(rng, policy_version)
        to_stored = app.mapper.to_stored_event
        out = Generated()
        pending: list[tuple[datetime, int, Generator[datetime, None, None], Any, int]] = []
        sequence = 0
        next_arrival = start
        started = time.perf_counter()
        cpu_started = time.process_time()

        def arrival_after(at: datetime) -> datetime:
            while True:
                at += timedelta(seconds=rng.expovariate(peak_rate))
                if rng.random() < arrival_weight(at):
                    return at

        schema = app.recorder.datastore.schema  # type: ignore[attr-defined]
        table = f'"{schema}"."{app.recorder.events_table_name}"'  # type: ignore[attr-defined]
        writer = CopyWriter(self.container.settings.database_url, table)
        writer.start()
        try:
            buffer: list[tuple[UUID, int, str, bytes]] = []

            def flush() -> None:
                nonlocal buffer
                writer.put(buffer)
                buffer = []
                if progress is not None:
                    progress(out.events)

            def take(aggregate: Any) -> bool:
                """Queue the aggregate's new events; False once ``total`` have been written."""
                for event in aggregate.collect_events():
                    stored = to_stored(event)
                    buffer.append(
                        (
                            stored.originator_id,
                            stored.originator_version,
                            stored.topic,
                            stored.state,
                        )
                    )
                    out.topics[stored.topic] += 1
                    out.events += 1
                    if len(buffer) >= chunk_rows:
                        flush()
                    if out.events >= self.total:
                        return False
                return True

            next_arrival = arrival_after(start)
            while out.events < self.total:
                if not pending or next_arrival <= pending[0][0]:
                    at = next_arrival
                    case, index = factory.receive(at)
                    out.cases += 1
                    out.open_cases += 1
                    out.kinds[case.kind.value] += 1
                    out.channels[case.channel.value] += 1
                    out.intake[case.intake_unit] += 1
                    out.first = out.first or at
                    out.last = at
                    budget = stall_budget(rng)
                    lifecycle = factory.lifecycle(case)
                    step_at = next(lifecycle)
                    if not (take(case) and take(index)):
                        break
                    if budget > 0:
                        heapq.heappush(pending, (step_at, sequence, lifecycle, case, budget))
                        sequence += 1
                    next_arrival = arrival_after(at)
                    continue
                at, _, lifecycle, case, budget = heapq.heappop(pending)
                was_open = case.is_open
                try:
                    step_at = lifecycle.send(None)
                except StopIteration:
                    step_at = None
                if was_open != case.is_open:
                    out.open_cases += 1 if case.is_open else -1
                out.last = at
                if not take(case):
                    break
                if step_at is not None and budget > 1:
                    heapq.heappush(pending, (step_at, sequence, lifecycle, case, budget - 1))
                    sequence += 1
            if buffer:
                flush()
        finally:
            writer.finish()
        out.copy_seconds = writer.seconds
        out.seconds = time.perf_counter() - started
        out.cpu_seconds = time.process_time() - cpu_started
        return out


# --- rebuilding, with the time of each part -----------------------------------------------


@dataclass
class Breakdown:
    read: float = 0.0
    decode: float = 0.0
    batches: int = 0
    cases: int = 0  # distinct aggregates per batch, summed: state loads and stores per batch
    process: Counter[str] = field(default_factory=Counter)
    commit: Counter[str] = field(default_factory=Counter)


class TimedLog:
    """The container's event log, timing reads and (lazy, shared) decoding."""

    def __init__(self, log: Any, breakdown: Breakdown) -> None:
        self.log = log
        self.b = breakdown

    def read(self, after: int, limit: int) -> list[Any]:
        started = time.perf_counter()
        events = self.log.read(after, limit)
        self.b.read += time.perf_counter() - started
        self.b.batches += 1
        self.b.cases += len({e.originator_id for e in events})
        b = self.b
        for logged in events:
            decode = logged._decode

            def timed(decode: Callable[[], Any] = decode) -> Any:
                started = time.perf_counter()
                try:
                    return decode()
                finally:
                    b.decode += time.perf_counter() - started

            logged._decode = timed
        return events

    def head(self) -> int:
        return int(self.log.head())


class TimedView:
    """A view whose commits are timed; everything else passes through."""

    def __init__(self, view: Any, name: str, breakdown: Breakdown) -> None:
        self._view = view
        self._name = name
        self._b = breakdown

    def commit(self, changes: Any, position: int) -> None:
        started = time.perf_counter()
        self._view.commit(changes, position)
        self._b.commit[self._name] += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


class TimedProjection:
    """A projection whose processing is timed, less the decoding it triggered."""

    def __init__(self, projection: Any, breakdown: Breakdown) -> None:
        self._p = projection
        self._b = breakdown
        self.name = projection.name
        self.version = projection.version

    def wants(self, topic: str) -> bool:
        return bool(self._p.wants(topic))

    def process(self, events: Sequence[Any], view: Any) -> Any:
        decoded = self._b.decode
        started = time.perf_counter()
        changes = self._p.process(events, view)
        spent = time.perf_counter() - started - (self._b.decode - decoded)
        self._b.process[self.name] += spent
        return changes


@dataclass
class RebuildResult:
    seconds: float
    events: int
    head: int
    rss_before: float
    rss_peak: float
    breakdown: Breakdown
    promote_seconds: float = 0.0
    samples: list[tuple[int, float]] = field(default_factory=list)
    cpu_seconds: float = 0.0  # this process's CPU time (PostgreSQL's is not in it)
    promote_each: dict[str, float] = field(default_factory=dict)  # with its index builds

    @property
    def rate(self) -> float:
        return self.head / self.seconds if self.seconds else 0.0


def rebuild_all_at_once(container: Container, profile: Path | None) -> RebuildResult:
    """One Runner over a fresh build of every registered read model: the batch read once."""
    from projections.runner import Binding, Runner, few_collections

    catalog = container.catalog
    breakdown = Breakdown()
    fresh = {name: catalog.start_rebuild(name) for name in catalog.views}
    # Append-only read models are never rebuilt: they are built once, from their own position
    # (0 in this fresh database), like the worker does at first start.
    views = fresh | {name: catalog.target(name) for name in catalog.fixed}
    bindings = [
        Binding(
            TimedProjection(container.projections[name], breakdown),
            TimedView(view, name, breakdown),
        )
        for name, view in views.items()
    ]
    log = TimedLog(container.event_log(), breakdown)
    # Configured as interfaces.rebuild.rebuild_together configures its Runner.
    catch_up = getattr(container.settings, "projection_catch_up_batch_size", None)
    runner = Runner(
        log,
        bindings,
        batch_size=container.settings.projection_batch_size,
        catch_up_batch_size=catch_up,
    )
    head = log.head()
    samples: list[tuple[int, float]] = []
    rss_before = rss_mb()
    reset_peak_rss()
    profiler = cProfile.Profile() if profile is not None else None
    cpu_started = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    events = 0
    next_sample = 0
    with few_collections():  # as interfaces.rebuild.rebuild_together runs it
        while any(b.view.position() < head for b in bindings):
            taken = runner.step()
            if not taken:
                break
            events += taken
            lowest = min(b.view.position() for b in bindings)
            if lowest >= next_sample:
                samples.append((lowest, rss_mb()))
                next_sample = lowest + head // 10
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler is not None:
        profiler.disable()
        assert profile is not None
        profiler.dump_stats(profile)
    peak = peak_rss_mb()
    started = time.perf_counter()
    promote_each: dict[str, float] = {}
    for name, view in fresh.items():
        began = time.perf_counter()
        catalog.promote(view)  # builds the secondary indexes the rebuild went without
        promote_each[name] = time.perf_counter() - began
    promote = time.perf_counter() - started
    return RebuildResult(
        seconds, events, head, rss_before, peak, breakdown, promote, samples, cpu, promote_each
    )


def rebuild_together(container: Container) -> Any:
    """``interfaces.rebuild.rebuild_together`` over every rebuildable read model, uninstrumented."""
    from interfaces import rebuild

    return rebuild.rebuild_together(container, list(container.catalog.views))


def rebuild_one_by_one(container: Container) -> dict[str, Any]:
    """``interfaces.rebuild.rebuild`` per rebuildable read model, as the CLI runs it."""
    from interfaces.rebuild import rebuild

    results: dict[str, Any] = {}
    for name in container.catalog.views:
        results[name] = rebuild(container, name)
    return results


# --- the stock eventsourcing ProjectionRunner ---------------------------------------------


def stock_classes() -> tuple[type, type, type]:
    from eventsourcing.application import Application
    from eventsourcing.dispatch import singledispatchmethod
    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import JSONTranscoder, Tracking, TrackingRecorder
    from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
    from eventsourcing.projection import Projection
    from eventsourcing.utils import get_topic
    from psycopg.sql import SQL, Identifier

    from application.complaints import ActorAsDict, ReporterAsDict
    from domain.complaint import Complaint

    class StockSource(Application):
        """The same event store as aduan's, read with the same transcodings."""

        name = "aduan"

        def register_transcodings(self, transcoder: JSONTranscoder) -> None:
            super().register_transcodings(transcoder)
            transcoder.register(ActorAsDict())
            transcoder.register(ReporterAsDict())

    class StockView(PostgresTrackingRecorder):
        """One row per case event, written with the tracking row in one transaction."""

        def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
            super().__init__(datastore, **kwargs)
            schema, table = Identifier(self.datastore.schema), Identifier(STOCK_TABLE)
            self.sql_create_statements.append(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0}.{1} (case_id uuid NOT NULL, "
                    "version bigint NOT NULL, type text NOT NULL, at timestamptz NOT NULL, "
                    "PRIMARY KEY (case_id, version))"
                ).format(schema, table)
            )
            self._insert = SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s)").format(schema, table)

        def case_event(self, event: Any, tracking: Tracking) -> None:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    self._insert,
                    (
                        event.originator_id,
                        event.originator_version,
                        type(event).__name__,
                        event.timestamp,
                    ),
                    prepare=True,
                )
                self._insert_tracking(cursor, tracking)

    case_events = [
        value
        for value in vars(Complaint).values()
        if isinstance(value, type) and issubclass(value, Complaint.Event)
    ]

    class StockProjection(Projection[TrackingRecorder]):
        name = "stock_case_events"
        # Filtered in SQL, as the library's examples do: index events never reach the runner.
        topics = tuple(get_topic(cls) for cls in case_events)

        @singledispatchmethod
        def process_event(self, domain_event: DomainEventProtocol[Any], tracking: Tracking) -> None:
            self.view.case_event(domain_event, tracking)  # type: ignore[attr-defined]

    return StockSource, StockProjection, StockView


@dataclass
class StockResult:
    seconds: float
    position: int
    rows: int
    steady_rate: float

    @property
    def rate(self) -> float:
        return self.position / self.seconds if self.seconds else 0.0


def run_stock(container: Container, seconds: float) -> StockResult:
    import psycopg
    from eventsourcing.projection import ProjectionRunner

    from infrastructure.persistence import event_store_env

    source, projection, view = stock_classes()
    env = event_store_env(container.settings) | {"POSTGRES_POOL_SIZE": "2"}
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=source, projection_class=projection, view_class=view, env=env
    ) as runner:
        warm_at = started + min(2.0, seconds / 5)
        while time.perf_counter() < warm_at:
            time.sleep(0.05)
        warm_position = runner.view.max_tracking_id("aduan") or 0
        warm_time = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            time.sleep(0.05)
        position = runner.view.max_tracking_id("aduan") or 0
        ended = time.perf_counter()
    with psycopg.connect(container.settings.database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {STOCK_TABLE}").fetchone()
    steady = (position - warm_position) / (ended - warm_time) if ended > warm_time else 0.0
    return StockResult(ended - started, position, int(row[0]) if row else 0, steady)


# --- query latency --------------------------------------------------------------------------


@dataclass
class Latency:
    name: str
    samples: list[float]
    seconds: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    @property
    def qps(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


def timed_queries(name: str, query: Callable[[], Any], count: int, threads: int) -> Latency:
    for _ in range(min(50, count)):  # warm the pool and the caches
        query()
    per_thread = count // threads

    def worker() -> list[float]:
        samples = []
        for _ in range(per_thread):
            started = time.perf_counter()
            query()
            samples.append(time.perf_counter() - started)
        return samples

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        parts = [pool.submit(worker) for _ in range(threads)]
        samples = [s for part in parts for s in part.result()]
    return Latency(name, samples, time.perf_counter() - started)


def query_latencies(
    container: Container, at: datetime, count: int, threads: int
) -> tuple[list[Latency], dict[str, Any]]:
    """GET-equivalents: the live view as the route finds it, its position, then the query."""
    from domain.vocabulary import OPEN_STATUSES
    from infrastructure.read_models import CatalogReadSide
    from projections.queues.view import QueueQuery

    read_side = CatalogReadSide(container.catalog)
    queues = read_side.view("queues")
    open_values = {s.value for s in OPEN_STATUSES}
    totals = {}
    for unit in container.complaints.units:
        counts = queues.counts(unit, False)
        totals[unit] = sum(n for s, n in counts.items() if s in open_values)
    busy = max(totals, key=lambda u: totals[u])
    facts: dict[str, Any] = {"busy unit": f"{busy} ({totals[busy]} open cases)"}

    def page() -> Any:
        view = read_side.view("queues")
        view.position()
        return view.page(QueueQuery(busy, limit=51))  # the route asks for limit + 1

    def counts() -> Any:
        view = read_side.view("queues")
        view.position()
        return view.counts(busy, False)

    results = [
        timed_queries(f"queue page ({busy}, default filters, 50)", page, count, threads),
        timed_queries(f"queue counts ({busy})", counts, count, threads),
    ]
    if "sla" in container.catalog.names():
        sla = read_side.view("sla")
        if hasattr(sla, "flagged"):
            from projections.sla.view import SlaQuery

            unit_rows = sla.flagged(SlaQuery(at=at, units=frozenset({busy})))
            all_rows = sla.flagged(SlaQuery(at=at))
            facts["sla alerts"] = (
                f"{len(unit_rows)} due soon/breached in {busy}, {len(all_rows)} agency-wide, "
                f"at {at:%Y-%m-%d %H:%M} UTC"
            )

            def alerts_unit() -> Any:
                view = read_side.view("sla")
                view.position()
                return view.flagged(SlaQuery(at=at, units=frozenset({busy}), limit=ALERTS))

            def alerts_all() -> Any:
                view = read_side.view("sla")
                view.position()
                return view.flagged(SlaQuery(at=at, limit=ALERTS))

            results.append(
                timed_queries(f"sla alerts ({busy}, limit {ALERTS})", alerts_unit, count, threads)
            )
            results.append(
                timed_queries(
                    f"sla alerts (agency-wide, limit {ALERTS})", alerts_all, count, threads
                )
            )
    else:
        facts["sla alerts"] = "no 'sla' read model registered yet: not measured"
    return results, facts


# --- memory, machine, database --------------------------------------------------------------


def _status_kb(field_name: str) -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    return 0.0


def postgres_cpu_seconds(database: str) -> float:
    """CPU time (user + system) of the PostgreSQL backends serving ``database`` on this host, as
    far as /proc shows them (0 where it does not): with this process's, the rebuild's whole CPU."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not command.startswith("postgres:") or f" {database} " not in command:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set since the last reset (VmHWM), else the process's ru_maxrss."""
    peak = _status_kb("VmHWM")
    if not peak:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024


def reset_peak_rss() -> None:
    """Linux resets VmHWM to the current RSS on "5" > clear_refs; the peak becomes per phase."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def scalar(database_url: str, query: str) -> Any:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return None if row is None else row[0]


def admin_execute(statement: Any) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def create_database(name: str) -> None:
    from psycopg import sql

    admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    from psycopg import sql

    assert name.startswith("aduan_bench_"), name
    admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("eventsourcing", "psycopg", "psycopg-binary")
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "postgresql": str(scalar(f"{PG_SERVER}/postgres", "SELECT version()")),
        "python": platform.python_version(),
        "packages": versions,
        "load": loadavg(),
    }


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the run --------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def print_profile(path: Path, events: int, top: int = 30) -> None:
    stats = pstats.Stats(str(path))
    say(f"\ncProfile of the combined rebuild (top {top} by own time; µs per event in the log):")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    say(f"  {'own µs/ev':>9} {'cum µs/ev':>9} {'calls/ev':>8}  function")
    for (filename, line, func), (_, calls, own, cumulative, _) in rows:
        where = f"{Path(filename).name}:{line}({func})" if line else func
        say(
            f"  {own / events * 1e6:9.1f} {cumulative / events * 1e6:9.1f} "
            f"{calls / events:8.2f}  {where}"
        )


def summarise_py_spy(path: Path, top: int = 25) -> None:
    """Own and inclusive shares of the combined rebuild in a ``py-spy record --format raw`` file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0

    def short(frame: str) -> str:  # "f (/path/to/file.py:12)" -> "f (file.py)"
        name, _, where = frame.partition(" (")
        return f"{name} ({Path(where.rstrip(')')).name.rpartition(':')[0]})"

    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "rebuild_all_at_once" not in stack:
            continue
        samples = int(count)
        total += samples
        frames = [short(f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    say(f"{total} samples inside rebuild_all_at_once")
    say("own time (leaf frames):")
    for frame, samples in own.most_common(top):
        say(f"  {samples / total:6.1%}  {frame}")
    say("inclusive time:")
    for frame, samples in inclusive.most_common(top * 2):
        say(f"  {samples / total:6.1%}  {frame}")


def benchmark(args: argparse.Namespace, workdir: Path, database: str) -> int:
    import psycopg

    from infrastructure.settings import Settings
    from interfaces.bootstrap import bootstrap

    database_url = f"{PG_SERVER}/{database}"
    facts = machine()
    say(f"machine: nproc {facts['nproc']}, {facts['cpu']}")
    say(f"         {facts['postgresql']}")
    say(f"         Python {facts['python']}, {facts['packages']}")
    say(f"         load average at start {facts['load']}")
    say(f"database {database}; {args.events} events, seed {args.seed}")

    settings = Settings(
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(48),
        var_dir=workdir / "var",
        background=False,
    )
    container = bootstrap(settings)
    try:
        names = container.catalog.names()
        say(
            f"read models registered: {', '.join(names)} "
            f"(rebuildable: {', '.join(container.catalog.views) or '-'}; "
            f"append-only: {', '.join(container.catalog.fixed) or '-'})"
        )

        # 1. Data.
        reset_peak_rss()
        rss_start = rss_mb()
        generator = Generator_(container, args.events, args.days, args.seed)
        shown = [0.0]

        def progress(events: int) -> None:
            now = time.perf_counter()
            if now - shown[0] > 5:
                shown[0] = now
                say(f"  generated {events} events, RSS {rss_mb():.0f} MB")

        data = generator.run(args.chunk, progress)
        gen_peak = peak_rss_mb()
        say(
            f"\n1. generated {data.events} events of {data.cases} cases in {data.seconds:.1f} s "
            f"= {data.events / data.seconds:,.0f} events/s (COPY in chunks of {args.chunk}, "
            f"in a thread: {data.copy_seconds:.1f} s); this process's CPU {data.cpu_seconds:.1f} s "
            f"= {data.events / data.cpu_seconds:,.0f} events per CPU-second; "
            f"RSS {rss_start:.0f} MB before, peak {gen_peak:.0f} MB"
        )
        assert data.first is not None and data.last is not None
        say(
            f"   recorded time {data.first:%Y-%m-%d} .. {data.last:%Y-%m-%d %H:%M} UTC; "
            f"{data.open_cases} cases still open ({data.open_cases / data.cases:.1%})"
        )
        say(f"   events: {dict(data.topics.most_common())}")
        say(f"   kinds: {dict(data.kinds.most_common())}")
        say(f"   channels: {dict(data.channels.most_common(8))} ...")
        say(f"   intake units: {dict(data.intake.most_common(6))} ... ({len(data.intake)} units)")
        if args.copies > 1:
            # Long logs quickly: the generated log again, copies - 1 times, server-side, each copy
            # with cases of their own (new originator ids), appended in log order.
            started = time.perf_counter()
            with psycopg.connect(database_url, autocommit=True) as conn:
                for copy in range(1, args.copies):
                    conn.execute(
                        f"INSERT INTO {EVENTS_TABLE} "
                        "(originator_id, originator_version, topic, state) "
                        "SELECT md5(originator_id::text || %s)::uuid, originator_version, topic, "
                        f"state FROM {EVENTS_TABLE} WHERE notification_id <= %s "
                        "ORDER BY notification_id",
                        (f":copy{copy}", data.events),
                    )
            say(
                f"   copied the log {args.copies - 1} more times in "
                f"{time.perf_counter() - started:.1f} s: {data.events * args.copies} events"
            )
        started = time.perf_counter()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {EVENTS_TABLE}")
        size = scalar(
            database_url, f"SELECT pg_size_pretty(pg_total_relation_size('{EVENTS_TABLE}'))"
        )
        head = container.event_log().head()
        say(
            f"   VACUUM ANALYZE {time.perf_counter() - started:.1f} s; {EVENTS_TABLE} {size}, "
            f"head position {head}"
        )

        # 2. Rebuilds.
        say(f"\n2a. rebuilding (pid {os.getpid()}, for py-spy) ...")
        load_before = os.getloadavg()
        pg_cpu = postgres_cpu_seconds(database)
        combined = rebuild_all_at_once(container, args.profile)
        pg_cpu = postgres_cpu_seconds(database) - pg_cpu
        say(
            f"    one Runner over all {len(names)} read models "
            f"(batches {settings.projection_batch_size}, "
            f"{getattr(settings, 'projection_catch_up_batch_size', '-')} while far behind): "
            f"{combined.head} events to the head in {combined.seconds:.1f} s = "
            f"{combined.rate:,.0f} events/s (promote {combined.promote_seconds:.2f} s after); "
            f"this process's CPU {combined.cpu_seconds:.1f} s"
        )
        with_promote = combined.seconds + combined.promote_seconds
        say(
            f"    with the promote (secondary indexes built then): {with_promote:.1f} s = "
            f"{combined.head / with_promote:,.0f} events/s; promote "
            + ", ".join(f"{n} {s:.2f} s" for n, s in combined.promote_each.items())
        )
        cpu_per_event = (combined.cpu_seconds + pg_cpu) / combined.head * 1e6
        say(
            f"    CPU: this process {combined.cpu_seconds:.1f} s + PostgreSQL backends "
            f"{pg_cpu:.1f} s (promote included) = {cpu_per_event:.0f} µs per event; load "
            f"average {' '.join(f'{x:.2f}' for x in load_before)} before, "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after"
        )
        b = combined.breakdown
        total = combined.seconds
        say(
            f"    {b.cases / b.batches:,.0f} distinct aggregates per batch on average "
            f"({combined.head / b.cases:.2f} events per aggregate and batch)"
        )
        say(
            f"    read (SELECT of {b.batches} batches) {b.read:.1f} s ({b.read / total:.0%}), "
            f"decode {b.decode:.1f} s ({b.decode / total:.0%})"
        )
        for name in names:
            p, c = b.process[name], b.commit[name]
            say(
                f"    {name:<8} process {p:6.1f} s ({p / total:4.0%})  "
                f"commit {c:6.1f} s ({c / total:4.0%})  "
                f"= {(p + c) / combined.head * 1e6:6.1f} µs per event"
            )
        other = total - b.read - b.decode - sum(b.process.values()) - sum(b.commit.values())
        say(
            f"    other (positions, loop) {other:.1f} s; per event overall "
            f"{total / combined.head * 1e6:.1f} µs"
        )
        say(
            f"    memory: RSS {combined.rss_before:.0f} MB before, peak {combined.rss_peak:.0f} MB "
            f"during (+{combined.rss_peak - combined.rss_before:.0f} MB); RSS at 0/10/.../100%: "
            + ", ".join(f"{mb:.0f}" for _, mb in combined.samples)
        )
        if args.profile is not None:
            print_profile(args.profile, combined.head)

        one_by_one: dict[str, Any] = {}
        if not args.skip_one_by_one:
            reset_peak_rss()
            one_by_one = rebuild_one_by_one(container)
            seconds = sum(s.seconds for s in one_by_one.values())
            say(
                f"\n2b. interfaces.rebuild.rebuild() per read model, one after another: "
                f"{seconds:.1f} s in all = {head / seconds:,.0f} events/s "
                f"(peak RSS {peak_rss_mb():.0f} MB)"
            )
            for name, stats in one_by_one.items():
                say(f"    {name:<8} {stats.seconds:6.1f} s = {stats.rate:8,.0f} events/s")
            for name in container.catalog.fixed:
                say(f"    {name:<8} append-only: built in 2a, never rebuilt")

        if not args.skip_together:
            reset_peak_rss()
            together = rebuild_together(container)
            say(
                f"\n2c. interfaces.rebuild.rebuild_together() over the rebuildable ones "
                f"({', '.join(container.catalog.views)}), uninstrumented: "
                f"{together.seconds:.1f} s = {head / together.seconds:,.0f} events/s "
                f"(peak RSS {peak_rss_mb():.0f} MB)"
            )

        # 3. The stock runner.
        reset_peak_rss()
        stock = run_stock(container, args.stock_seconds)
        say(
            f"\n3. stock eventsourcing ProjectionRunner (one transaction per event, case topics "
            f"only): position {stock.position} of {head} after {stock.seconds:.1f} s = "
            f"{stock.rate:,.0f} events/s ({stock.steady_rate:,.0f} after warm-up); "
            f"{stock.rows} rows (peak RSS {peak_rss_mb():.0f} MB)"
        )
        ratio = combined.rate / stock.rate if stock.rate else float("inf")
        say(f"   ratio ours/stock: {ratio:.1f}x (2a vs 3, events in the log per second)")

        # 4. Queries.
        at = data.last
        latencies, query_facts = query_latencies(container, at, args.queries, args.threads)
        say(
            f"\n4. query latency, {args.threads} threads, {args.queries} queries each kind "
            f"(read pool {max(2, settings.postgres_pool_size)} connections):"
        )
        for key, value in query_facts.items():
            say(f"   {key}: {value}")
        for latency in latencies:
            say(
                f"   {latency.name:<45} p50 {latency.percentile(50):6.2f} ms  "
                f"p99 {latency.percentile(99):6.2f} ms  ({latency.qps:,.0f}/s)"
            )

        say(
            f"\nsummary: {head} events; rebuild of all read models {combined.rate:,.0f} events/s, "
            f"stock {stock.rate:,.0f} events/s, ratio {ratio:.1f}x; rebuild peak RSS "
            f"{combined.rss_peak:.0f} MB (+{combined.rss_peak - combined.rss_before:.0f} MB); "
            f"load average at end {loadavg()}"
        )
        return 0
    finally:
        container.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events to generate")
    parser.add_argument("--days", type=float, default=365, help="days of recorded time")
    parser.add_argument("--seed", type=int, default=20261203, help="random seed of the data")
    parser.add_argument("--chunk", type=int, default=20_000, help="rows per COPY")
    parser.add_argument(
        "--stock-seconds", type=float, default=30, help="how long the stock runner runs"
    )
    parser.add_argument("--queries", type=int, default=2000, help="queries of each kind")
    parser.add_argument("--threads", type=int, default=8, help="concurrent query threads")
    parser.add_argument(
        "--skip-one-by-one", action="store_true", help="skip the per-read-model rebuilds (2b)"
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="append the generated log this many times in all, each copy with cases of its own "
        "(new ids), by INSERT ... SELECT: --events 200000 --copies 10 is a 2,000,000-event log",
    )
    parser.add_argument(
        "--skip-together",
        action="store_true",
        help="skip 2c (rebuild_together, uninstrumented): for long runs such as 2,000,000 events",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the combined rebuild under cProfile, save the stats here (slows it down)",
    )
    parser.add_argument(
        "--summarise-py-spy",
        type=Path,
        metavar="FILE",
        help="only summarise a `py-spy record --format raw` file of an earlier run, then exit",
    )
    args = parser.parse_args(argv)
    if args.events < 100 or args.chunk < 1 or args.threads < 1 or args.queries < args.threads:
        parser.error("--events >= 100, --chunk >= 1, --threads >= 1, --queries >= --threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarise_py_spy is not None:
        summarise_py_spy(args.summarise_py_spy)
        return 0
    database = f"aduan_bench_{secrets.token_hex(4)}"
    created = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="aduan-bench-") as tmp:
        try:
            create_database(database)
            created = True
            return benchmark(args, Path(tmp), database)
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
        finally:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            try:
                if created:
                    drop_database(database)
                    print(f"dropped database {database}", file=sys.stderr)
            finally:
                signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
