"""Tracking PINs: drawn uniformly, stored as a salted scrypt hash, checked in constant time."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.pins import (
    PIN_ALPHABET,
    PIN_LENGTH,
    hash_pin,
    new_pin,
    normalised_pin,
    verify_pin,
)
from infrastructure.clock import SystemRandomness

SALT = bytes(range(16))


class FixedBytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def token_bytes(self, n: int) -> bytes:
        return self.data[:n]


def test_a_new_pin_has_ten_symbols_of_the_unambiguous_alphabet() -> None:
    pin = new_pin(SystemRandomness())
    assert len(pin) == PIN_LENGTH
    assert set(pin) <= set(PIN_ALPHABET)
    assert not set(pin) & set("ILOU")


def test_every_symbol_can_be_drawn() -> None:
    pin = new_pin(FixedBytes(bytes([0, 32, 64, 96, 128, 160, 192, 224, 0, 32])))
    assert pin == "0" * 10
    assert new_pin(FixedBytes(bytes([31, 63, 95, 127, 159, 191, 223, 255, 1, 2]))) == "ZZZZZZZZ12"


def test_the_stored_form_names_scrypt_and_its_parameters_and_holds_no_pin() -> None:
    stored = hash_pin("KW04GTK63R", SALT)
    scheme, log2_n, r, p, salt, digest = stored.split("$")
    assert base64.b64decode(salt) == SALT
    assert (scheme, log2_n, r, p) == ("scrypt", "14", "8", "1")
    assert "KW04GTK63R" not in stored
    expected = hashlib.scrypt(b"KW04GTK63R", salt=SALT, n=2**14, r=8, p=1, dklen=32)
    assert base64.b64decode(digest) == expected


def test_the_right_pin_verifies_and_a_wrong_one_does_not() -> None:
    stored = hash_pin("KW04GTK63R", SALT)
    assert verify_pin("KW04GTK63R", stored)
    assert not verify_pin("KW04GTK63S", stored)
    assert not verify_pin("", stored)


def test_a_pin_is_read_back_as_it_was_shown() -> None:
    stored = hash_pin("KW04GTK61R", SALT)
    assert normalised_pin("kw04-gtk6 1r") == "KW04GTK61R"
    assert verify_pin("kw04-gtk6 1r", stored)
    assert verify_pin("KWO4GTK6IR", stored)  # O read as 0, I as 1


def test_each_salt_gives_another_hash_of_the_same_pin() -> None:
    assert hash_pin("KW04GTK63R", SALT) != hash_pin("KW04GTK63R", bytes(16))


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValueError):
        hash_pin("KW04GTK63R", b"short")


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "plain$text",
        "bcrypt$14$8$1$AAAA$AAAA",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$14$8$1$!!$??",
    ],
)
def test_no_stored_hash_or_a_malformed_one_never_verifies(stored: str | None) -> None:
    assert not verify_pin("KW04GTK63R", stored)


@settings(max_examples=5, deadline=None)
@given(st.text(alphabet=PIN_ALPHABET, min_size=10, max_size=10))
def test_any_pin_verifies_against_its_own_hash_only(pin: str) -> None:
    stored = hash_pin(pin, SALT)
    assert verify_pin(pin, stored)
    other = pin[:-1] + ("0" if pin[-1] != "0" else "1")
    assert not verify_pin(other, stored)
