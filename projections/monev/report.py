"""The monev recap of a quarter or a month, computed from facts rows by pure functions.

Counting rules (stated here because a bureau compares these figures across periods):

- A case counts in the period of its receipt, in its intake unit's local time zone; with a unit,
  the cases whose intake or handling unit it is.
- Restricted cases (whistle-blowing, staff ethics) are counted only for callers who may see
  them; for others they are left out of every figure and ``excluded_restricted`` says how many.
- A case closed as a duplicate of another is counted once, under ``totals.duplicates``, and in
  no other figure: the case it duplicates is the one that counts.
- SLA share of a stage = met / (met + missed); stages still open are shown apart and are not in
  the share (None when nothing is done yet). A stage a case never started (a first-contact answer
  is never routed) counts nowhere. A reopened case is judged on its latest close.
- Working days: from the receipt's local day to the event's local day, in the zone of the unit
  handling the case then; the day of receipt never counts (same-day = 0).
- Median: the middle value, or the mean of the two middle values for an even count.
  90th percentile: nearest rank, the value at rank ceil(0.9 x n) of the sorted values, so it is
  always a value that occurred; None when there are no values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from domain.vocabulary import Category, Channel, Kind, Outcome, Status
from projections.monev.view import MET, MISSED, OPEN, SLA_STAGES, MonevFact, Period

TITLE = "Rekapitulasi Pengaduan dan Permintaan Informasi"
TOP_CATEGORIES = 5
DURATIONS = ("acknowledge", "route", "close")
PERCENTILE_METHOD = "nearest-rank"
RESTRICTED_NOTE = (
    "{n} whistle-blowing/staff-ethics case(s) of this period are left out of every figure: "
    "your role may not see them."
)


def median(values: Sequence[int]) -> float | None:
    """The middle value; for an even count, the mean of the two middle values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The ``percent``-th percentile by nearest rank: sorted value at rank ceil(p/100 x n)."""
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be within 1..100, got {percent}")
    ordered = sorted(values)
    return ordered[math.ceil(percent * len(ordered) / 100) - 1]


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def in_scope(fact: MonevFact, period: Period, unit: str | None) -> bool:
    if not period.contains(fact):
        return False
    return unit is None or unit in (fact.intake_unit, fact.handling_unit)


def _counts(values: Iterable[str], vocabulary: Iterable[str]) -> dict[str, int]:
    """Every value of the vocabulary, in its order, zeros included (a recap lists them all)."""
    counted = Counter(values)
    return {name: counted.get(name, 0) for name in vocabulary}


def sla_shares(cases: Sequence[MonevFact]) -> dict[str, dict[str, Any]]:
    result = {}
    for stage in SLA_STAGES:
        states = Counter(f.sla(stage) for f in cases)
        met, missed = states[MET], states[MISSED]
        result[stage] = {
            "met": met,
            "missed": missed,
            "open": states[OPEN],
            "share_met": share(met, met + missed),
        }
    return result


def durations(cases: Sequence[MonevFact]) -> dict[str, dict[str, Any]]:
    result = {}
    for stage in DURATIONS:
        values = [v for f in cases if (v := getattr(f, f"days_to_{stage}")) is not None]
        result[stage] = {
            "count": len(values),
            "median": median(values),
            "p90": nearest_rank(values, 90),
        }
    return result


def top_categories(cases: Sequence[MonevFact], n: int = TOP_CATEGORIES) -> list[dict[str, Any]]:
    counted = Counter(f.category for f in cases)
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [
        {"rank": rank, "category": name, "count": count, "share": share(count, len(cases))}
        for rank, (name, count) in enumerate(ranked, start=1)
    ]


def by_month(cases: Sequence[MonevFact], period: Period) -> list[dict[str, Any]]:
    rows = []
    for month in period.months:
        of_month = [f for f in cases if f.month == month]
        rows.append(
            {"month": f"{period.year}-{month:02d}", "total": len(of_month)}
            | _counts((f.kind for f in of_month), (k.value for k in Kind))
        )
    return rows


def template_uses(cases: Sequence[MonevFact]) -> list[dict[str, Any]]:
    """Standard answers used, per template and version: uses, and cases using it at least once."""
    uses: Counter[str] = Counter()
    cases_using: Counter[str] = Counter()
    for fact in cases:
        uses.update(fact.templates)
        cases_using.update(set(fact.templates))
    rows = []
    for key, count in uses.items():
        template_id, _, version = key.rpartition("@")
        rows.append(
            {
                "template_id": template_id,
                "version": int(version),
                "uses": count,
                "cases": cases_using[key],
            }
        )
    return sorted(rows, key=lambda r: (-r["uses"], r["template_id"], r["version"]))


def monev_report(
    facts: Iterable[MonevFact],
    period: Period,
    *,
    unit: str | None,
    include_restricted: bool,
    generated_at: datetime,
    position: int | None = None,
) -> dict[str, Any]:
    """The recap of ``period`` (and ``unit``) as JSON-ready data; see the module's rules."""
    scope = [f for f in facts if in_scope(f, period, unit)]
    hidden = [] if include_restricted else [f for f in scope if f.restricted]
    visible = [f for f in scope if include_restricted or not f.restricted]
    duplicates = [f for f in visible if f.duplicate]
    cases = [f for f in visible if not f.duplicate]
    kinds = _counts((f.kind for f in cases), (k.value for k in Kind))
    followed_up = sum(f.followed_up for f in cases)
    closed = sum(f.status == Status.CLOSED for f in cases)
    return {
        "title": TITLE,
        "period": {
            "year": period.year,
            "quarter": period.quarter,
            "month": period.month,
            "key": period.key,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
        },
        "unit": unit,
        "generated_at": generated_at.isoformat(),
        "position": position,
        "totals": {
            "received": len(visible),
            "duplicates": len(duplicates),
            "cases": len(cases),
            "complaints": kinds[Kind.COMPLAINT],
            "information_requests": kinds[Kind.INFORMATION_REQUEST],
            "suggestions": kinds[Kind.SUGGESTION],
            "followed_up": followed_up,
            "followed_up_share": share(followed_up, len(cases)),
            "closed": closed,
            "open": len(cases) - closed,
        },
        "by_kind": kinds,
        "by_channel": _counts((f.channel for f in cases), (c.value for c in Channel)),
        "by_category": _counts((f.category for f in cases), (c.value for c in Category)),
        "by_outcome": _counts(
            (f.outcome for f in cases if f.outcome is not None),
            (o.value for o in Outcome if o != Outcome.DUPLICATE),
        ),
        "by_unit": dict(sorted(Counter(f.handling_unit for f in cases).items())),
        "by_month": by_month(cases, period),
        "sla": sla_shares(cases),
        "working_days": durations(cases),
        "top_categories": top_categories(cases),
        "by_template": template_uses(cases),
        "excluded_restricted": len(hidden),
        "notes": [RESTRICTED_NOTE.format(n=len(hidden))] if hidden else [],
        "method": {
            "period": "receipt date in the intake unit's local time zone",
            "working_days": "from the receipt's local day (not counted) to the event's local "
            "day, in the handling unit's time zone; weekends, holidays, cuti bersama and "
            "closures skipped",
            "median": "middle value; mean of the two middle values for an even count",
            "p90": f"{PERCENTILE_METHOD}: sorted value at rank ceil(0.9 x n)",
            "sla_share": "met / (met + missed); open stages not counted",
            "duplicates": "counted once, under totals.duplicates, and in no other figure",
            "by_template": "standard answers used on acknowledgements, interim answers and "
            "closes of the period's cases (period of receipt), per template and version",
        },
    }
