"""What the application needs from the outside world, as protocols infrastructure implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.access import Principal
from domain.calendar import WorkingCalendar
from domain.service_levels import SlaPolicy
from domain.values import SealedText


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...


class Randomness(Protocol):
    def token_bytes(self, n: int) -> bytes: ...


class PolicyBook(Protocol):
    def current(self) -> SlaPolicy: ...

    def get(self, version: int) -> SlaPolicy: ...


class Calendars(Protocol):
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar as it stands now (holidays and closures)."""
        ...


class Positions(Protocol):
    """Where events sit in the application's global log (their notification ids)."""

    def positions(self, originator_id: UUID) -> dict[int, int]:
        """Version → position for every event of one aggregate."""
        ...


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal:
        """The caller a bearer token names; raises AuthenticationFailed."""
        ...


class KeyStore(Protocol):
    """The cases' data keys, each stored wrapped (encrypted) under the master key."""

    def add(self, key_id: UUID, wrapped: bytes, at: datetime) -> None:
        """Store a new wrapped key; a key id already there keeps its first value."""
        ...

    def add_many(self, keys: list[tuple[UUID, bytes, datetime]]) -> None:
        """``add`` for many keys, in one transaction (group commit of creates)."""
        ...

    def get(self, key_id: UUID) -> bytes | None:
        """The wrapped key; None when it was erased or never existed."""
        ...

    def get_many(self, key_ids: list[UUID]) -> dict[UUID, bytes | None]:
        """``get`` for many keys in one query (read models opening a batch of cases)."""
        ...

    def erase(self, key_id: UUID, at: datetime) -> bool:
        """Destroy the wrapped key, keeping a row that says when; False if already gone."""
        ...

    def rewrap(self, change: Callable[[UUID, bytes], bytes]) -> int:
        """Replace every live wrapped key by ``change(key_id, wrapped)`` in one transaction."""
        ...


class Envelope(Protocol):
    """Envelope encryption: data keys wrapped by a key-encryption key, text sealed by data keys."""

    def new_key(self) -> bytes: ...

    def wrap(self, key_id: UUID, key: bytes) -> bytes: ...

    def unwrap(self, key_id: UUID, wrapped: bytes) -> bytes:
        """Raises ValueError when ``wrapped`` was not wrapped by this envelope's master key."""
        ...

    def seal(self, key: bytes, key_id: UUID, associated: bytes, text: str) -> SealedText: ...

    def open(self, key: bytes, sealed: SealedText, associated: bytes) -> str:
        """Raises ValueError when the key or the associated data do not match."""
        ...

    def keyed_hash(self, key: bytes, value: str) -> str: ...


@dataclass(frozen=True)
class AccessRecord:
    """One read of a confidential or restricted case: who, when, which case, through what."""

    at: datetime
    sub: str
    roles: tuple[str, ...]
    complaint_id: UUID
    route: str
    seq: int | None = None


class AccessLog(Protocol):
    """Append-only record of reads of confidential cases (never case events)."""

    def record(self, entry: AccessRecord) -> None: ...

    def entries(self, complaint_id: UUID | None, after: int, limit: int) -> list[AccessRecord]:
        """Entries with a ``seq`` above ``after``, oldest first, optionally of one case."""
        ...
