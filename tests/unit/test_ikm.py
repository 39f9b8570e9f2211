"""The IKM arithmetic of PermenPANRB 14/2017: exact weights, one rounding at the end, grades."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidCommand
from domain.ikm import (
    EQUAL_WEIGHTS,
    checked_weights,
    compute_ikm,
    grade_of,
    round_half_up,
    weight_text,
)

scores = st.lists(st.integers(1, 4), min_size=9, max_size=9)
responses = st.lists(scores, min_size=1, max_size=40)


def index_of(rows, weights=None) -> Decimal:
    found = compute_ikm(rows, weights).index
    assert found is not None
    return found


@settings(deadline=None, max_examples=200)
@given(st.integers(1, 50))
def test_all_fours_is_100_and_grade_a_all_ones_25_and_grade_d(n: int) -> None:
    top = compute_ikm([[4] * 9] * n)
    assert top.index == Decimal("100.00") and top.grade is not None and top.grade.letter == "A"
    bottom = compute_ikm([[1] * 9] * n)
    assert bottom.index == Decimal("25.00")
    assert bottom.grade is not None and bottom.grade.label == "Tidak Baik"


@settings(deadline=None, max_examples=200)
@given(responses, st.randoms(use_true_random=False))
def test_the_order_of_respondents_does_not_change_anything(rows, random) -> None:
    shuffled = list(rows)
    random.shuffle(shuffled)
    assert compute_ikm(shuffled) == compute_ikm(rows)


@settings(deadline=None, max_examples=200)
@given(responses, st.permutations(range(9)))
def test_with_equal_weights_the_order_of_elements_does_not_change_the_index(rows, order) -> None:
    permuted = [[r[i] for i in order] for r in rows]
    assert compute_ikm(permuted).exact == compute_ikm(rows).exact


@settings(deadline=None, max_examples=300)
@given(responses)
def test_equal_weights_give_the_closed_form_25_sum_over_9n(rows) -> None:
    exact = Fraction(25 * sum(map(sum, rows)), 9 * len(rows))
    result = compute_ikm(rows)
    assert result.exact == exact
    assert result.index == round_half_up(exact, 2)
    assert Decimal("25.00") <= result.index <= Decimal("100.00")
    assert result.respondents == len(rows)
    assert [e.total for e in result.elements] == [sum(r[i] for r in rows) for i in range(9)]


@settings(deadline=None, max_examples=200)
@given(responses)
def test_the_grade_comes_from_the_rounded_index_and_its_floors(rows) -> None:
    result = compute_ikm(rows)
    assert result.index is not None and result.grade is not None
    index = result.index
    expected = (
        "A"
        if index >= Decimal("88.31")
        else "B"
        if index >= Decimal("76.61")
        else "C"
        if index >= Decimal("65.00")
        else "D"
    )
    assert result.grade.letter == expected


@settings(deadline=None, max_examples=200)
@given(st.fractions(min_value=0, max_value=200), st.integers(0, 4))
def test_rounding_half_up_is_exact_and_within_half_a_unit(value, places) -> None:
    rounded = round_half_up(value, places)
    unit = Fraction(1, 10**places)
    assert rounded.as_tuple().exponent == -places
    assert -unit / 2 < Fraction(rounded) - value <= unit / 2


def test_a_worked_example_of_three_respondents() -> None:
    rows = [
        [4, 3, 3, 2, 4, 3, 4, 3, 4],  # sum 30
        [3, 3, 2, 2, 3, 4, 4, 3, 3],  # sum 27
        [4, 4, 3, 1, 3, 3, 4, 2, 4],  # sum 28 (a 1 on biaya_tarif)
    ]
    result = compute_ikm(rows)
    # Element totals: 11, 10, 8, 5, 10, 10, 12, 8, 11 (sum 85 = 30 + 27 + 28).
    assert [e.total for e in result.elements] == [11, 10, 8, 5, 10, 10, 12, 8, 11]
    # NRR = total / 3: 3.666.. -> 3.67, 3.333.. -> 3.33, 2.666.. -> 2.67, 1.666.. -> 1.67, 4.00.
    assert [str(e.nrr_display) for e in result.elements] == [
        "3.67", "3.33", "2.67", "1.67", "3.33", "3.33", "4.00", "2.67", "3.67",
    ]  # fmt: skip
    # IKM = 25 x (1/9) x (85/3) = 25 x 85 / 27 = 2125 / 27 = 78.7037.. -> 78.70, B (>= 76.61).
    assert result.exact == Fraction(2125, 27)
    assert result.index == Decimal("78.70")
    assert result.grade is not None and (result.grade.letter, result.grade.label) == ("B", "Baik")


def test_the_index_rounds_half_up_not_half_even() -> None:
    # Eight respondents, 45 fours and 27 threes: sum 180 + 81 = 261 over 72 scores.
    # IKM = 25 x 261 / 72 = 6525 / 72 = 90.625 exactly: half up gives 90.63 (half even: 90.62).
    rows = [[4] * 9] * 5 + [[3] * 9] * 3
    assert sum(map(sum, rows)) == 261
    assert compute_ikm(rows).exact == Fraction(90625, 1000)
    assert index_of(rows) == Decimal("90.63")


def test_weights_printed_as_0_11_would_change_the_grade() -> None:
    # Four respondents, 111 points over 36 scores: NRRs summing to 111/4 = 27.75.
    rows = [[3] * 9] * 3 + [[4, 4, 4, 3, 3, 3, 3, 3, 3]]
    assert sum(map(sum, rows)) == 111
    # Exact: 25 x 111 / 36 = 77.0833.. -> 77.08, B (>= 76.61).
    assert index_of(rows) == Decimal("77.08")
    assert grade_of(index_of(rows)).letter == "B"
    # The worksheets' 0,11: 25 x 0.11 x 27.75 = 76.3125 -> 76.31, which would be C.
    printed = 25 * Decimal("0.11") * Decimal("27.75")
    assert printed == Decimal("76.3125")
    assert grade_of(printed.quantize(Decimal("0.01"))).letter == "C"
    # And near the top: 128 points over 36 scores (NRRs summing to 32): exactly
    # 25 x 128 / 36 = 88.888.. -> 88.89, A; with 0,11, 25 x 0.11 x 32 = 88.00, B.
    top = [[4] * 9] * 2 + [[4] + [3] * 8] * 2  # 72 + 2 x 28
    assert sum(map(sum, top)) == 128
    assert index_of(top) == Decimal("88.89") and grade_of(index_of(top)).letter == "A"
    assert grade_of(25 * Decimal("0.11") * 32).letter == "B"


@pytest.mark.parametrize(
    ("index", "letter"),
    [
        ("100.00", "A"),
        ("88.31", "A"),
        ("88.30", "B"),
        ("76.61", "B"),
        ("76.60", "C"),
        ("65.00", "C"),
        ("64.99", "D"),
        ("25.00", "D"),
    ],
)
def test_the_grade_boundaries_of_the_regulation(index: str, letter: str) -> None:
    assert grade_of(Decimal(index)).letter == letter


def test_an_unrounded_index_just_below_a_floor_takes_the_grade_of_its_rounded_value() -> None:
    # 88.305 rounds half up to 88.31: grade A, though the unrounded value is below 88.31.
    assert round_half_up(Fraction("88.305"), 2) == Decimal("88.31")
    assert grade_of(round_half_up(Fraction("88.305"), 2)).letter == "A"


def test_configured_weights_must_sum_to_exactly_one() -> None:
    weights = checked_weights(["0.2", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1"])
    assert sum(weights) == 1
    with pytest.raises(InvalidCommand):
        checked_weights(["0.11"] * 9)  # 0.99
    with pytest.raises(InvalidCommand):
        checked_weights(["0.5", "0.5"])
    with pytest.raises(InvalidCommand):
        checked_weights(["1", "0", "0", "0", "0", "0", "0", "0", "0"])
    with pytest.raises(InvalidCommand):
        checked_weights(["x"] * 9)


def test_configured_weights_are_used_exactly() -> None:
    # Persyaratan weighs 0.2, the other eight 0.1: one respondent, a 4 on persyaratan, 2 elsewhere.
    weights = checked_weights(["0.2"] + ["0.1"] * 8)
    rows = [[4, 2, 2, 2, 2, 2, 2, 2, 2]]
    # IKM = 25 x (0.2 x 4 + 8 x 0.1 x 2) = 25 x (0.8 + 1.6) = 25 x 2.4 = 60.00, D.
    assert index_of(rows, weights) == Decimal("60.00")
    # With equal weights: 25 x 20 / 9 = 55.555.. -> 55.56.
    assert index_of(rows) == Decimal("55.56")


def test_no_respondents_give_no_index_and_no_grade() -> None:
    empty = compute_ikm([])
    assert (empty.respondents, empty.index, empty.grade, empty.elements) == (0, None, None, ())


def test_weights_are_written_exactly() -> None:
    assert [weight_text(w) for w in EQUAL_WEIGHTS] == ["1/9"] * 9
    assert weight_text(Fraction(1, 5)) == "0.2"
    assert weight_text(Fraction(1, 8)) == "0.125"


def test_a_response_that_is_not_nine_scores_1_to_4_is_refused() -> None:
    with pytest.raises(ValueError):
        compute_ikm([[4] * 8])
    with pytest.raises(ValueError):
        compute_ikm([[5] * 9])
