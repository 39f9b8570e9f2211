"""The IKM report of a year or a quarter, overall or for a unit, from survey rows (pure).

Counting rules: a survey counts in the period of its own date, in the time zone of the unit
that handled the case when it was answered, and for that unit; one survey per case; every
respondent of the period is pooled (the NRR of an element is the mean of all its scores). The
arithmetic and the rounding are ``domain.ikm``'s. Whistle-blowing and staff-ethics cases are
left out for callers who may not see them, and ``excluded_restricted`` says how many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from domain.ikm import NRR_PLACES, ROUNDING, compute_ikm, weight_text
from domain.vocabulary import SURVEY_ELEMENTS
from projections.surveys.view import SurveyRow

TITLE = "Indeks Kepuasan Masyarakat (IKM)"
RESTRICTED_NOTE = (
    "{n} survey(s) of whistle-blowing/staff-ethics cases of this period are left out of every "
    "figure: your role may not see them."
)
EQUAL_WEIGHTS_NOTE = "equal weights, exactly 1/9 each (not 0.11)"
UNIT_WEIGHTS_NOTE = "the unit's configured weights (version {version}), summing to exactly 1"


def in_period(row: SurveyRow, year: int, quarter: int | None) -> bool:
    return row.year == year and (quarter is None or row.quarter == quarter)


def ikm_figures(
    rows: Iterable[SurveyRow], weights: Sequence[Fraction] | None = None
) -> dict[str, Any]:
    """respondents, per-element NRR, ikm, grade of ``rows`` as JSON-ready values."""
    result = compute_ikm((row.scores for row in rows), weights)
    grade = result.grade
    index = result.index
    return {
        "respondents": result.respondents,
        "elements": [
            {"element": e.element.value, "total": e.total, "nrr": float(e.nrr_display)}
            for e in result.elements
        ]
        or [{"element": e.value, "total": 0, "nrr": None} for e in SURVEY_ELEMENTS],
        "ikm": None if index is None else float(index),
        "grade": None if grade is None else grade.letter,
        "grade_label": None if grade is None else grade.label,
        "weights": [weight_text(w) for w in result.weights],
    }


def ikm_report(
    rows: Iterable[SurveyRow],
    *,
    year: int,
    quarter: int | None,
    unit: str | None,
    include_restricted: bool,
    generated_at: datetime,
    weights: Sequence[Fraction] | None = None,
    weights_version: int | None = None,
    position: int | None = None,
) -> dict[str, Any]:
    scope = [r for r in rows if in_period(r, year, quarter) and (unit is None or r.unit == unit)]
    hidden = [] if include_restricted else [r for r in scope if r.restricted]
    visible = [r for r in scope if include_restricted or not r.restricted]
    figures = ikm_figures(visible, weights)
    return {
        "title": TITLE,
        "year": year,
        "quarter": quarter,
        "unit": unit,
        **figures,
        "flagged": sum(r.flagged for r in visible),
        "weights_note": (
            EQUAL_WEIGHTS_NOTE
            if weights is None
            else UNIT_WEIGHTS_NOTE.format(version=weights_version)
        ),
        "rounding": ROUNDING,
        "method": {
            "period": "the survey date, in the time zone of the unit handling the case then",
            "unit": "the unit handling the case when the survey was answered",
            "respondents": "one survey per case; every respondent of the period pooled",
            "nrr": f"sum of the element's scores / respondents; shown rounded half up to "
            f"{NRR_PLACES} decimals, the index uses the exact value",
            "ikm": "sum(weight x NRR) x 25; grades A >= 88.31, B >= 76.61, C >= 65.00, else D",
        },
        "excluded_restricted": len(hidden),
        "notes": [RESTRICTED_NOTE.format(n=len(hidden))] if hidden else [],
        "generated_at": generated_at.isoformat(),
        "position": position,
    }


def ikm_summary(
    rows: Iterable[SurveyRow],
    *,
    months: Sequence[int],
    unit: str | None,
    include_restricted: bool,
    weights: Sequence[Fraction] | None = None,
) -> dict[str, Any]:
    """The index of the surveys of ``months`` (of the rows' year) for the monev recap."""
    scope = [r for r in rows if r.month in months and (unit is None or r.unit == unit)]
    visible = [r for r in scope if include_restricted or not r.restricted]
    figures = ikm_figures(visible, weights)
    return {
        "unit": unit,
        "respondents": figures["respondents"],
        "ikm": figures["ikm"],
        "grade": figures["grade"],
        "grade_label": figures["grade_label"],
        "flagged": sum(r.flagged for r in visible),
        "excluded_restricted": len(scope) - len(visible),
    }
