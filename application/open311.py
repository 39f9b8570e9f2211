"""Open311 GeoReport v2 over the public side: what the facade may show, and its listing port.

Filing goes through the PublicDesk unchanged (a case filed on channel ``web`` with a PIN). The
lists are public, without a PIN: they show only non-confidential, non-restricted cases, and of
those only what a stranger may see (category, coarse status, dates, the handling unit); never the
subject, the description, the reporter, officers or notes.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_PAGE_SIZE = 200
CONNECTOR = "open311"
# Outcomes of a POST requests that are not kept in the tally, only in the metrics: a client
# past its rate limit must not turn its flood of 429s into a flood of writes.
UNCOUNTED = frozenset({"rate_limited"})

log = logging.getLogger("aduan.open311")


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


class ConnectorTally(Protocol):
    """How many of a connector's inbound items ended how, and when the last one did."""

    def count(self, connector: str, outcome: str, at: datetime, detail: str | None = None) -> None:
        """One more item with ``outcome`` (``detail``: what went wrong, never personal data)."""
        ...


class InboundMetrics(Protocol):
    def connector_inbound(self, connector: str, kind: str, result: str) -> None: ...


class PublicListing(Protocol):
    def find(self, query: RequestQuery) -> list[ListedRequest]:
        """Listable cases matching ``query``, newest received first (then by number)."""
        ...


@dataclass(frozen=True)
class Open311:
    """The facade's configuration: its listing and the API keys clients may send (none: open)."""

    listing: PublicListing
    api_keys: tuple[str, ...] = ()
    tally: ConnectorTally | None = None  # filed / rejected requests, for connectors status
    metrics: InboundMetrics | None = None

    def outcome(self, result: str, at: datetime, detail: str | None = None) -> None:
        """One POST requests ended with ``result`` (filed, replayed, or why it was refused):
        counted in the metrics and, unless rate-limited, in the tally. Never raises: counting
        must not fail a request that was filed."""
        try:
            if self.metrics is not None:
                self.metrics.connector_inbound(CONNECTOR, "request", result)
            if self.tally is not None and result not in UNCOUNTED:
                self.tally.count(CONNECTOR, result, at, detail)
        except Exception as error:
            log.warning("Open311 %s not counted: %s", result, type(error).__name__)

    def key_index(self, key: str | None) -> int | None:
        """Which configured key ``key`` is (compared in constant time); None when none is."""
        found = None
        for index, known in enumerate(self.api_keys):
            if key is not None and hmac.compare_digest(key.encode(), known.encode()):
                found = index
        return found
