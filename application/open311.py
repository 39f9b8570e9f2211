"""Open311 GeoReport v2 over the public side: what the facade may show, and its listing port.

Filing goes through the PublicDesk unchanged (a case filed on channel ``web`` with a PIN). The
lists are public, without a PIN: they show only non-confidential, non-restricted cases, and of
those only what a stranger may see (category, coarse status, dates, the handling unit); never the
subject, the description, the reporter, officers or notes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class RequestQuery:
    """A GET requests query; ``numbers`` (canonical tracking numbers) overrides the rest."""

    numbers: tuple[str, ...] | None = None
    categories: tuple[str, ...] = ()
    open: bool | None = None  # True: open ones, False: closed ones, None: both
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ListedRequest:
    """One case as the Open311 lists show it."""

    tracking_number: str
    status: str  # our status (received, ..., closed, reopened)
    outcome: str | None
    category: str
    handling_unit: str
    received_at: datetime
    updated_at: datetime
    expected_at: datetime | None  # the close stage's due instant while open


class PublicListing(Protocol):
    def find(self, query: RequestQuery) -> list[ListedRequest]:
        """Listable cases matching ``query``, newest received first (then by number)."""
        ...


@dataclass(frozen=True)
class Open311:
    """The facade's configuration: its listing and the API keys clients may send (none: open)."""

    listing: PublicListing
    api_keys: tuple[str, ...] = ()

    def key_index(self, key: str | None) -> int | None:
        """Which configured key ``key`` is (compared in constant time); None when none is."""
        found = None
        for index, known in enumerate(self.api_keys):
            if key is not None and hmac.compare_digest(key.encode(), known.encode()):
                found = index
        return found
