"""Value objects carried inside events: who acted, and the reporter's personal data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who recorded an event: the token's subject and the unit they acted for."""

    sub: str
    unit: str | None


@dataclass(frozen=True)
class Reporter:
    """The complainant's personal data; it travels only inside this value (encrypted later)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None

    def is_empty(self) -> bool:
        return not any((self.name, self.email, self.phone, self.address))
