"""Tracking PINs: drawn at random, shown once, kept only as a slow salted scrypt hash.

The stored form names its parameters (``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``), so they
can be raised later without invalidating older PINs. Verification recomputes the hash and
compares in constant time; a PIN checked against no stored hash still costs one full hash, so
an unknown tracking number answers as slowly as a wrong PIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from application.ports import Randomness

# Crockford's base32 without I, L, O, U: easy to read out on the phone, no look-alikes.
PIN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PIN_LENGTH = 10  # 50 bits: out of reach of guessing even without the attempt limits
SALT_BYTES = 16
HASH_BYTES = 32
LOG2_N, R, P = 14, 8, 1  # ~16 MiB and tens of milliseconds per hash
_MAXMEM = 64 * 1024 * 1024


def new_pin(randomness: Randomness) -> str:
    """A fresh PIN, uniformly drawn (32 symbols: each byte's low five bits)."""
    return "".join(PIN_ALPHABET[b & 31] for b in randomness.token_bytes(PIN_LENGTH))


def normalised_pin(pin: str) -> str:
    """What the complainant typed, read the way it was shown: case, spaces and dashes aside,
    and the look-alikes O/I/L read as 0/1/1."""
    cleaned = "".join(pin.split()).replace("-", "").upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def _scrypt(pin: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        normalised_pin(pin).encode(),
        salt=salt,
        n=2**log2_n,
        r=r,
        p=p,
        dklen=HASH_BYTES,
        maxmem=_MAXMEM,
    )


def hash_pin(pin: str, salt: bytes) -> str:
    """The stored form of ``pin`` under ``salt`` (draw the salt with ``Randomness``)."""
    if len(salt) < SALT_BYTES:
        raise ValueError(f"the salt must have at least {SALT_BYTES} bytes")
    digest = _scrypt(pin, salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str | None) -> bool:
    """Whether ``pin`` matches ``stored``; with no stored hash, False after the same work."""
    if stored is None:
        _scrypt(pin, b"\0" * SALT_BYTES, LOG2_N, R, P)
        return False
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        found = _scrypt(pin, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
