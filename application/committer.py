"""Group commit: the port through which creates hand their new aggregates to one shared writer."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from application.errors import ApplicationError
from application.privacy import NewKey


class CommitterUnavailable(ApplicationError):
    """The writer cannot take this request (queue full, queued too long, or it stopped)."""


class Committer(Protocol):
    """Saves the aggregates of many requests in one transaction (one ``save(*aggregates)``)."""

    # How long a request may wait while still queued; once the writer took it, it is committed
    # or fails, and the caller waits for that.
    queued_seconds: float

    def submit(self, aggregates: Sequence[Any], keys: Sequence[NewKey] = ()) -> Future[list[Any]]:
        """Queue new aggregates, and the data keys their events name (stored no later than the
        events: on PostgreSQL in the same transaction as a batch's events); the future gives
        their recordings, in order.

        Raises CommitterUnavailable at once when the queue is full. The future fails with
        IntegrityError when these aggregates (and only these) clash with stored ones.
        """
        ...
