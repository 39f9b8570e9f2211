"""Tracking numbers: ten random Crockford base-32 symbols and a Luhn mod 32 check symbol.

Printed in groups of four (``7K2M-9QXD-4TZ``); read back case-insensitively, with hyphens and
spaces ignored and Crockford's look-alikes (O→0, I/L→1) folded, so a number read over the phone
still parses. Fifty random bits make a number unguessable; the check symbol catches every
single-symbol typo and most swaps of neighbours before any lookup.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 10
RANDOM_BYTES = 7  # 56 bits drawn, 50 used
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class InvalidTrackingNumber(ValueError):
    """The text is not a well-formed tracking number (wrong length, symbol or check)."""


def _check_symbol(body: str) -> str:
    """Luhn mod N over the Crockford alphabet (N = 32)."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for symbol in reversed(body):
        addend = factor * ALPHABET.index(symbol)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def tracking_number_from(random_bytes: bytes) -> str:
    """Build a canonical tracking number from at least ``RANDOM_BYTES`` random bytes."""
    if len(random_bytes) < RANDOM_BYTES:
        raise ValueError(f"need {RANDOM_BYTES} random bytes, got {len(random_bytes)}")
    value = int.from_bytes(random_bytes[:RANDOM_BYTES], "big")
    body = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(RANDOM_SYMBOLS))
    return body + _check_symbol(body)


def normalise(text: str) -> str:
    """Return the canonical form of a typed tracking number, or raise InvalidTrackingNumber."""
    folded = text.upper().translate(_FOLD)
    if len(folded) != RANDOM_SYMBOLS + 1 or any(c not in ALPHABET for c in folded):
        raise InvalidTrackingNumber(f"'{text}' is not a tracking number")
    if _check_symbol(folded[:-1]) != folded[-1]:
        raise InvalidTrackingNumber(f"'{text}' fails its check symbol")
    return folded


def display(number: str) -> str:
    """Group a canonical number for people: ``7K2M-9QXD-4TZ``."""
    return "-".join(number[i : i + 4] for i in range(0, len(number), 4))
