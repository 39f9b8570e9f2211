"""Monev recaps worked out by hand: a quarter of cases with known dates, holidays included.

Triwulan II 2026 in WIB. Closed days that matter: Fri 3 Apr (Good Friday), Fri 1 May (Labour
Day), Mon 1 Jun (Pancasila Day), Tue 16 Jun (Islamic New Year), and weekends.

    case  kind / channel / category                 received    ack     routed        closed
    A     complaint / phone / kosmetik              Thu 2 Apr   Mon 6   Tue 7 (JKT)   Thu 16 Apr
    B     information_request / whatsapp / obat     Mon 13 Apr  Mon 13  -             Tue 14 Apr
    C     complaint / web / kosmetik                Wed 29 Apr  Wed 6/5 Thu 7/5 (JKT) open
    D     complaint / email / pangan_olahan         Mon 11 May  Tue 12  Tue 12 (JKT) duplicate of A
    E     suggestion / suggestion_box / registrasi  Mon 1 Jun   Wed 3   Wed 3 (DIT)   Fri 19 Jun
    F     complaint / wbs / etika_pegawai           Mon 8 Jun   Tue 9   -             open
    G     information_request (Jayapura)            1 Jul 01:00 WIT (30 Jun in UTC): Triwulan III

Working days from receipt (the day of receipt never counts):
    acknowledge: A 1 (6 Apr), B 0, C 4 (30 Apr, 4-6 May), E 2 (2-3 Jun), F 1
    route:       A 2, C 5, E 2
    close:       A 9 (6-10, 13-16 Apr), B 1, E 13 (2-5, 8-12, 15, 17-19 Jun)
SLA (3 HK acknowledge and route, 5 HK first follow-up, 5/14 HK close): everything met except
C's acknowledgement (due 5 May) and routing (due 5 May); C's close and F's stages still open.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.complaints import Complaints
from domain.vocabulary import Category, Channel, FollowUpAction, Kind, Outcome
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from infrastructure.reference_data import PolicyBook, shipped_units
from projections.monev.memory import MemoryMonevView
from projections.monev.projection import MonevProjection
from projections.monev.report import median, monev_report, nearest_rank
from projections.monev.view import MonevFact, Period
from projections.runner import Binding, Runner
from tests.support import POPO, build_complaints, new_case, officer
from tests.support_history import COMMANDS, apply_step

WIB = ZoneInfo("Asia/Jakarta")
BOSS = officer("unit_head", "wbs_officer", units=("*",), sub="kepala")
Q2 = Period(2026, quarter=2)
GENERATED = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)


def wib(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=WIB)


def projection() -> MonevProjection:
    return MonevProjection(
        PolicyBook.shipped().get, HolidayCalendars().calendar, shipped_units().zone_of
    )


class Quarter:
    """Files and handles cases at given local times, then projects them."""

    def __init__(self) -> None:
        self.clock = ManualClock(wib(4, 1))
        self.app: Complaints = build_complaints(POPO, self.clock)
        self.ids: dict[str, UUID] = {}

    def file(self, name: str, at: datetime, **fields: object) -> UUID:
        self.clock.set(at)
        case_id = self.app.file_case(BOSS, new_case(**fields)).id
        self.ids[name] = case_id
        return case_id

    def version(self, name: str) -> int:
        return self.app.repository.get(self.ids[name]).version

    def ack(self, name: str, at: datetime) -> None:
        self.clock.set(at)
        self.app.acknowledge(BOSS, self.ids[name], self.version(name), message="diterima")

    def route(self, name: str, at: datetime, to: str = "BBPOM-JAKARTA") -> None:
        self.clock.set(at)
        self.app.route(BOSS, self.ids[name], self.version(name), to_unit=to, note="periksa")

    def follow_up(self, name: str, at: datetime) -> None:
        self.clock.set(at)
        self.app.follow_up(
            BOSS,
            self.ids[name],
            self.version(name),
            action=FollowUpAction.CLARIFICATION,
            note="klarifikasi",
            public=False,
        )

    def close(self, name: str, at: datetime, **extra: object) -> None:
        self.clock.set(at)
        outcome = extra.pop("outcome", Outcome.ANSWERED)
        self.app.close_case(
            BOSS, self.ids[name], self.version(name), outcome=outcome, answer="jawab", **extra
        )

    def view(self) -> MemoryMonevView:
        view = MemoryMonevView()
        Runner(ApplicationLog(self.app), [Binding(projection(), view)]).catch_up()
        return view


@pytest.fixture(scope="module")
def quarter() -> Iterator[Quarter]:
    q = Quarter()
    q.file("A", wib(4, 2), kind=Kind.COMPLAINT, channel=Channel.PHONE)
    q.ack("A", wib(4, 6))
    q.route("A", wib(4, 7))
    q.follow_up("A", wib(4, 8))
    q.close("A", wib(4, 16))
    q.file(
        "B",
        wib(4, 13),
        kind=Kind.INFORMATION_REQUEST,
        channel=Channel.WHATSAPP,
        category=Category.OBAT,
    )
    q.ack("B", wib(4, 13, 10))
    q.close("B", wib(4, 14))
    q.file("C", wib(4, 29), channel=Channel.WEB)
    q.ack("C", wib(5, 6))
    q.route("C", wib(5, 7))
    q.follow_up("C", wib(5, 8))
    q.file("D", wib(5, 11), channel=Channel.EMAIL, category=Category.PANGAN_OLAHAN)
    q.ack("D", wib(5, 12))
    q.route("D", wib(5, 12, 11))
    q.close("D", wib(5, 13), outcome=Outcome.DUPLICATE, duplicate_of=q.ids["A"])
    q.file(
        "E",
        wib(6, 1),
        kind=Kind.SUGGESTION,
        channel=Channel.SUGGESTION_BOX,
        category=Category.YANBLIK_REGISTRASI,
    )
    q.ack("E", wib(6, 3))
    q.route("E", wib(6, 3, 11), to="DIT-REG-PANGAN")
    q.follow_up("E", wib(6, 4))
    q.close("E", wib(6, 19))
    q.file("F", wib(6, 8), channel=Channel.WBS, category=Category.ETIKA_PEGAWAI)
    q.ack("F", wib(6, 9))
    q.file(
        "G",
        datetime(2026, 6, 30, 16, 0, tzinfo=UTC),
        kind=Kind.INFORMATION_REQUEST,
        intake_unit="BBPOM-JAYAPURA",
    )
    yield q
    q.app.close()


@pytest.fixture(scope="module")
def facts(quarter: Quarter) -> dict[str, MonevFact]:
    view = quarter.view()
    by_id = view.facts_of(quarter.ids.values())
    return {name: by_id[case_id] for name, case_id in quarter.ids.items()}


def report(quarter: Quarter, period: Period = Q2, **options: object) -> dict:
    view = quarter.view()
    every = view.facts(Period(2026, quarter=2)) + view.facts(Period(2026, quarter=3))
    options = {"unit": None, "include_restricted": False} | options
    return monev_report(every, period, generated_at=GENERATED, **options)  # type: ignore[arg-type]


# --- the facts rows -----------------------------------------------------------------------------


def test_working_days_to_each_stage_skip_weekends_and_holidays(facts) -> None:
    days = {n: (f.days_to_acknowledge, f.days_to_route, f.days_to_close) for n, f in facts.items()}
    assert days == {
        "A": (1, 2, 9),
        "B": (0, None, 1),
        "C": (4, 5, None),
        "D": (1, 1, 2),
        "E": (2, 2, 13),
        "F": (1, None, None),
        "G": (None, None, None),
    }


def test_each_stage_is_met_missed_open_or_never_started(facts) -> None:
    stages = {
        n: (f.sla_acknowledge, f.sla_route, f.sla_first_follow_up, f.sla_close)
        for n, f in facts.items()
    }
    assert stages["A"] == ("met", "met", "met", "met")
    assert stages["B"] == ("met", None, None, "met")
    assert stages["C"] == ("missed", "missed", "met", "open")
    assert stages["E"] == ("met", "met", "met", "met")
    assert stages["F"] == ("met", "open", None, "open")


def test_a_case_counts_in_the_period_of_its_intake_units_local_day(facts) -> None:
    jayapura = facts["G"]
    assert jayapura.received_at.astimezone(UTC).month == 6
    assert (jayapura.year, jayapura.quarter, jayapura.month) == (2026, 3, 7)
    assert (facts["C"].quarter, facts["C"].month) == (2, 4)


def test_flags_say_restricted_duplicate_and_followed_up(facts) -> None:
    assert [n for n, f in facts.items() if f.restricted] == ["F"]
    assert [n for n, f in facts.items() if f.duplicate] == ["D"]
    assert sorted(n for n, f in facts.items() if f.followed_up) == ["A", "C", "E"]
    assert facts["A"].handling_unit == "BBPOM-JAKARTA" and facts["A"].intake_unit == "ULPK-PUSAT"


# --- the recap ----------------------------------------------------------------------------------


def test_the_quarter_counts_each_case_once_and_duplicates_apart(quarter) -> None:
    recap = report(quarter)
    assert recap["totals"] == {
        "received": 5,
        "duplicates": 1,
        "cases": 4,
        "complaints": 2,
        "information_requests": 1,
        "suggestions": 1,
        "followed_up": 3,
        "followed_up_share": 0.75,
        "closed": 3,
        "open": 1,
    }
    assert {k: v for k, v in recap["by_channel"].items() if v} == {
        "phone": 1,
        "web": 1,
        "whatsapp": 1,
        "suggestion_box": 1,
    }
    assert recap["by_channel"]["email"] == 0  # D, the duplicate, counts nowhere else
    assert recap["by_kind"] == {"complaint": 2, "information_request": 1, "suggestion": 1}
    assert [(t["category"], t["count"]) for t in recap["top_categories"]] == [
        ("kosmetik", 2),
        ("obat", 1),
        ("yanblik_registrasi", 1),
    ]
    assert recap["by_month"] == [
        {"month": "2026-04", "total": 3, "complaint": 2, "information_request": 1, "suggestion": 0},
        {"month": "2026-05", "total": 0, "complaint": 0, "information_request": 0, "suggestion": 0},
        {"month": "2026-06", "total": 1, "complaint": 0, "information_request": 0, "suggestion": 1},
    ]
    assert recap["by_unit"] == {"BBPOM-JAKARTA": 2, "DIT-REG-PANGAN": 1, "ULPK-PUSAT": 1}
    assert recap["by_outcome"]["answered"] == 3 and "duplicate" not in recap["by_outcome"]


def test_sla_shares_are_met_over_met_and_missed_with_open_apart(quarter) -> None:
    sla = report(quarter)["sla"]
    assert sla["acknowledge"] == {"met": 3, "missed": 1, "open": 0, "share_met": 0.75}
    assert sla["route"] == {"met": 2, "missed": 1, "open": 0, "share_met": 0.6667}
    assert sla["first_follow_up"] == {"met": 3, "missed": 0, "open": 0, "share_met": 1.0}
    assert sla["close"] == {"met": 3, "missed": 0, "open": 1, "share_met": 1.0}


def test_medians_and_nearest_rank_p90_of_working_days(quarter) -> None:
    days = report(quarter)["working_days"]
    # acknowledge [0, 1, 2, 4]; route [2, 2, 5]; close [1, 9, 13]
    assert days["acknowledge"] == {"count": 4, "median": 1.5, "p90": 4}
    assert days["route"] == {"count": 3, "median": 2.0, "p90": 5}
    assert days["close"] == {"count": 3, "median": 9.0, "p90": 13}


def test_restricted_cases_are_left_out_for_those_who_may_not_see_them_and_the_report_says_so(
    quarter,
) -> None:
    hidden = report(quarter)
    assert hidden["excluded_restricted"] == 1
    assert hidden["notes"] and "1 whistle-blowing" in hidden["notes"][0]
    shown = report(quarter, include_restricted=True)
    assert shown["excluded_restricted"] == 0 and shown["notes"] == []
    assert shown["totals"]["cases"] == 5 and shown["totals"]["complaints"] == 3
    assert shown["by_channel"]["wbs"] == 1 and shown["by_category"]["etika_pegawai"] == 1
    assert shown["sla"]["route"] == {"met": 2, "missed": 1, "open": 1, "share_met": 0.6667}
    assert shown["working_days"]["acknowledge"] == {"count": 5, "median": 1.0, "p90": 4}


def test_a_unit_report_takes_the_cases_it_received_or_handles(quarter) -> None:
    jakarta = report(quarter, unit="BBPOM-JAKARTA")
    assert jakarta["unit"] == "BBPOM-JAKARTA"
    assert (jakarta["totals"]["received"], jakarta["totals"]["duplicates"]) == (3, 1)
    assert jakarta["totals"]["cases"] == 2 and jakarta["totals"]["complaints"] == 2
    pusat = report(quarter, unit="ULPK-PUSAT")
    assert pusat["totals"]["received"] == 5 and pusat["excluded_restricted"] == 1
    jayapura = report(quarter, unit="BBPOM-JAYAPURA")
    assert jayapura["totals"]["received"] == 0
    assert jayapura["working_days"]["close"] == {"count": 0, "median": None, "p90": None}
    assert jayapura["sla"]["close"]["share_met"] is None


def test_a_month_report_and_the_next_quarter(quarter) -> None:
    april = report(quarter, Period(2026, month=4))
    assert april["totals"]["cases"] == 3 and april["period"]["key"] == "2026-04"
    may = report(quarter, Period(2026, month=5))
    assert (may["totals"]["cases"], may["totals"]["duplicates"]) == (0, 1)
    q3 = report(quarter, Period(2026, quarter=3))
    assert q3["totals"]["information_requests"] == 1
    assert q3["period"] == {
        "year": 2026,
        "quarter": 3,
        "month": None,
        "key": "2026-Q3",
        "first_day": "2026-07-01",
        "last_day": "2026-09-30",
    }


# --- the statistics and the period -------------------------------------------------------------


def test_median_averages_the_two_middle_values_and_p90_takes_the_nearest_rank() -> None:
    assert median([]) is None and nearest_rank([], 90) is None
    assert median([7]) == 7.0 and nearest_rank([7], 90) == 7
    assert median([3, 1, 2]) == 2.0 and median([4, 1, 3, 2]) == 2.5
    ten = list(range(1, 11))
    assert nearest_rank(ten, 90) == 9  # rank ceil(9.0) = 9
    assert nearest_rank([*ten, 11], 90) == 10  # rank ceil(9.9) = 10
    assert nearest_rank([5, 1, 9], 50) == 5


@pytest.mark.parametrize(
    ("quarter", "month"), [(None, None), (1, 1), (5, None), (None, 13), (0, None)]
)
def test_a_period_needs_exactly_one_valid_quarter_or_month(quarter, month) -> None:
    with pytest.raises(ValueError):
        Period(2026, quarter, month)


def test_february_of_a_leap_year_ends_on_the_29th() -> None:
    assert Period(2028, month=2).last_day.day == 29
    assert Period(2026, quarter=1).months == (1, 2, 3)


# --- live equals rebuilt --------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    commands=st.lists(
        st.tuples(
            st.sampled_from(COMMANDS),
            st.integers(0, 50),
            st.integers(0, 72),
            st.integers(0, 100),
        ),
        min_size=1,
        max_size=30,
    ),
    splits=st.lists(st.integers(1, 7), min_size=1, max_size=10),
)
def test_monev_facts_built_live_in_any_batch_split_equal_a_rebuild(commands, splits) -> None:
    clock = ManualClock(datetime(2026, 3, 30, 2, tzinfo=UTC))
    app = build_complaints(POPO, clock)
    cases: list[UUID] = []
    for step in commands:
        apply_step(app, clock, cases, step)
    log = ApplicationLog(app)
    live = MemoryMonevView()
    sizes = iter(splits * 100)
    while live.position() < log.head():
        Runner(log, [Binding(projection(), live)], batch_size=next(sizes, 3)).step()
    rebuilt = MemoryMonevView()
    Runner(log, [Binding(projection(), rebuilt)], batch_size=10_000).catch_up()
    assert live.facts_of(cases) == rebuilt.facts_of(cases)
    assert len(live.facts_of(cases)) == len(set(cases))
    app.close()


def test_facts_never_hold_personal_data_or_free_text(facts) -> None:
    fields = set(MonevFact.__dataclass_fields__)
    assert not fields & {"reporter", "description", "subject", "answer", "tracking_number"}
    assert all(isinstance(f.id, UUID) for f in facts.values())
