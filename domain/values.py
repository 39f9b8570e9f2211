"""Value objects carried inside events: who acted, and the reporter's personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class Actor:
    """Who recorded an event: the token's subject and the unit they acted for."""

    sub: str
    unit: str | None


# Whoever acts through the public API (no token): the complainant holding the case's PIN.
PUBLIC_ACTOR = Actor("public", None)
# The service itself, acting on a timer (e.g. archiving a case silent too long).
SYSTEM_ACTOR = Actor("system", None)


@dataclass(frozen=True)
class Reporter:
    """The complainant's personal data as it arrives, in clear; events carry it sealed."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None

    def is_empty(self) -> bool:
        return not any((self.name, self.email, self.phone, self.address))


@dataclass(frozen=True)
class SealedText:
    """A text encrypted under a case's data key: opaque to the domain, readable only with it."""

    key_id: UUID
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class SealedReporter:
    """The reporter as events store it: each field sealed, plus keyed hashes for matching.

    The hashes (HMAC of the normalised email and phone) find "the same reporter" again without
    revealing who it is; without the agency's key they say nothing.
    """

    name: SealedText | None
    email: SealedText | None
    phone: SealedText | None
    address: SealedText | None
    email_match: str | None
    phone_match: str | None


# Free text in events: sealed when recorded by the application; plain only from domain tests.
Text = str | SealedText


class Sealer(Protocol):
    """Seals the personal data of one case under that case's data key."""

    @property
    def key_id(self) -> UUID: ...

    def seal(self, field: str, text: str) -> SealedText:
        """Encrypt ``text``, bound to the case and to ``field`` (a ciphertext cannot move)."""
        ...

    def match_hash(self, kind: str, normalised: str) -> str:
        """The keyed hash of a normalised email or phone number."""
        ...


def normalised_email(email: str) -> str:
    return email.strip().lower()


def normalised_phone(phone: str) -> str:
    """Digits only, Indonesian numbers in their international form: 0812… and +62812… agree."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


def seal_reporter(reporter: Reporter, sealer: Sealer) -> SealedReporter:
    def sealed(field: str, value: str | None) -> SealedText | None:
        return sealer.seal(f"reporter.{field}", value) if value else None

    return SealedReporter(
        name=sealed("name", reporter.name),
        email=sealed("email", reporter.email),
        phone=sealed("phone", reporter.phone),
        address=sealed("address", reporter.address),
        email_match=sealer.match_hash("email", normalised_email(reporter.email))
        if reporter.email
        else None,
        phone_match=sealer.match_hash("phone", normalised_phone(reporter.phone))
        if reporter.phone
        else None,
    )
