"""Tracking numbers: unguessable, checkable, forgiving of how people type them."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.tracking_number import (
    ALPHABET,
    RANDOM_BYTES,
    InvalidTrackingNumber,
    display,
    normalise,
    tracking_number_from,
)

random_bytes = st.binary(min_size=RANDOM_BYTES, max_size=RANDOM_BYTES)


@given(random_bytes)
def test_a_generated_number_reads_back_from_its_printed_form(raw: bytes) -> None:
    number = tracking_number_from(raw)
    assert len(number) == 11
    assert normalise(display(number)) == number
    assert normalise(display(number).lower()) == number


@settings(max_examples=200, deadline=None)
@given(random_bytes, st.integers(0, 10), st.sampled_from(ALPHABET))
def test_any_single_mistyped_symbol_is_caught_by_the_check(
    raw: bytes, at: int, symbol: str
) -> None:
    number = tracking_number_from(raw)
    typo = number[:at] + symbol + number[at + 1 :]
    if typo != number:
        with pytest.raises(InvalidTrackingNumber):
            normalise(typo)


def test_crockford_look_alikes_are_folded() -> None:
    canonical = tracking_number_from(bytes(RANDOM_BYTES))  # body of zeros
    assert canonical.startswith("0000000000")
    spoken = "oOoO-OoOo-Oo" + canonical[-1].lower()
    assert normalise(spoken) == canonical


@pytest.mark.parametrize("text", ["", "ABC", "U" * 11, "0123456789AB", "!!!!-!!!!-!!!"])
def test_malformed_text_is_rejected(text: str) -> None:
    with pytest.raises(InvalidTrackingNumber):
        normalise(text)


def test_numbers_drawn_from_fresh_randomness_differ() -> None:
    drawn = {tracking_number_from(secrets.token_bytes(RANDOM_BYTES)) for _ in range(2000)}
    assert len(drawn) == 2000
