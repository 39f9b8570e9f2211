"""The satisfaction index (IKM, PermenPANRB 14/2017) of a set of surveys: exact, then rounded once.

Per element the mean score (NRR, nilai rata-rata) over every respondent of the period, pooled;
the index is sum(weight_i x NRR_i) x 25. Weights are exact rationals: 1/9 each unless a unit
configured its own (summing to exactly 1), never the 0,11 the regulation's worksheets print
(that shifts the index by up to a point and can change the grade). Everything is computed on
exact fractions; only the index is rounded, once, to two decimals half up, and the grade is read
from that rounded value: A (Sangat Baik) >= 88.31, B (Baik) >= 76.61, C (Kurang Baik) >= 65.00,
else D (Tidak Baik). NRRs are rounded (half up, to ``NRR_PLACES`` decimals) only for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from domain.errors import InvalidCommand
from domain.vocabulary import HIGHEST_SCORE, LOWEST_SCORE, SURVEY_ELEMENTS, SurveyElement

SCALE = 25  # the conversion factor of the regulation: NRR 1-4 -> index 25-100
INDEX_PLACES = 2
NRR_PLACES = 2
ROUNDING = (
    "exact fractions throughout; the index rounded once, to 2 decimals, half up (ROUND_HALF_UP); "
    "the grade read from the rounded index; NRRs rounded half up to 2 decimals for display only"
)


@dataclass(frozen=True)
class Grade:
    """A mutu pelayanan grade and the lowest rounded index that earns it."""

    letter: str
    label: str
    floor: Decimal


GRADES = (
    Grade("A", "Sangat Baik", Decimal("88.31")),
    Grade("B", "Baik", Decimal("76.61")),
    Grade("C", "Kurang Baik", Decimal("65.00")),
    Grade("D", "Tidak Baik", Decimal("25.00")),
)

EQUAL_WEIGHTS: tuple[Fraction, ...] = tuple(
    Fraction(1, len(SURVEY_ELEMENTS)) for _ in SURVEY_ELEMENTS
)


def grade_of(index: Decimal) -> Grade:
    """The grade of an index already rounded to two decimals."""
    for grade in GRADES:
        if index >= grade.floor:
            return grade
    return GRADES[-1]


def round_half_up(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half up to ``places`` decimals, exactly (no float, no double rounding)."""
    if value < 0:
        raise ValueError("only non-negative values are rounded here")
    whole = math.floor(value * 10**places + Fraction(1, 2))
    return Decimal(whole).scaleb(-places)


def checked_weights(values: Sequence[str | Decimal | Fraction]) -> tuple[Fraction, ...]:
    """Nine weights, each in (0, 1], summing to exactly 1 (as written: "0.2", not 0.2 float)."""
    if len(values) != len(SURVEY_ELEMENTS):
        raise InvalidCommand("weights", f"give exactly {len(SURVEY_ELEMENTS)} weights")
    exact = []
    for position, value in enumerate(values):
        try:
            weight = Fraction(value)
        except (ValueError, ZeroDivisionError, InvalidOperation) as error:
            raise InvalidCommand(f"weights[{position}]", "must be a decimal number") from error
        if not 0 < weight <= 1:
            raise InvalidCommand(f"weights[{position}]", "must be above 0 and at most 1")
        exact.append(weight)
    total = sum(exact, Fraction(0))
    if total != 1:
        raise InvalidCommand("weights", f"must sum to exactly 1, not {_text(total)}")
    return tuple(exact)


@dataclass(frozen=True)
class ElementResult:
    element: SurveyElement
    total: int  # the sum of this element's scores
    nrr: Fraction  # exact mean score

    @property
    def nrr_display(self) -> Decimal:
        return round_half_up(self.nrr, NRR_PLACES)


@dataclass(frozen=True)
class IkmResult:
    respondents: int
    elements: tuple[ElementResult, ...]
    weights: tuple[Fraction, ...]
    exact: Fraction | None  # the unrounded index; None without respondents

    @property
    def index(self) -> Decimal | None:
        return None if self.exact is None else round_half_up(self.exact, INDEX_PLACES)

    @property
    def grade(self) -> Grade | None:
        index = self.index
        return None if index is None else grade_of(index)


def compute_ikm(
    responses: Iterable[Sequence[int]], weights: Sequence[Fraction] | None = None
) -> IkmResult:
    """The IKM of ``responses`` (each nine scores 1-4, in ``SURVEY_ELEMENTS`` order), pooled."""
    chosen = tuple(weights) if weights is not None else EQUAL_WEIGHTS
    if len(chosen) != len(SURVEY_ELEMENTS) or sum(chosen, Fraction(0)) != 1:
        raise ValueError("weights must be nine exact fractions summing to 1")
    totals = [0] * len(SURVEY_ELEMENTS)
    respondents = 0
    for scores in responses:
        if len(scores) != len(SURVEY_ELEMENTS) or any(
            not LOWEST_SCORE <= s <= HIGHEST_SCORE for s in scores
        ):
            raise ValueError(f"a response must be nine scores 1-4, got {list(scores)}")
        respondents += 1
        for position, score in enumerate(scores):
            totals[position] += score
    if respondents == 0:
        return IkmResult(0, (), chosen, None)
    elements = tuple(
        ElementResult(element, total, Fraction(total, respondents))
        for element, total in zip(SURVEY_ELEMENTS, totals, strict=True)
    )
    exact = SCALE * sum((w * e.nrr for w, e in zip(chosen, elements, strict=True)), Fraction(0))
    return IkmResult(respondents, elements, chosen, exact)


def weight_text(weight: Fraction) -> str:
    """A weight as written exactly: "0.2" when it has a finite decimal form, else "1/9"."""
    return _text(weight)


def _text(value: Fraction) -> str:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    return str(round_half_up(value, places))
