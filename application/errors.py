"""Errors of the use cases (beyond the domain's own), each with one HTTP meaning."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of the errors a use case raises on purpose."""


class NotFound(ApplicationError):
    """No such case, or one the caller may not see (the two are indistinguishable)."""


class Forbidden(ApplicationError):
    """The caller's role may not do this, or the caller does not serve that unit."""


class PreconditionRequired(ApplicationError):
    """A command on a case came without If-Match."""


class VersionConflict(ApplicationError):
    """If-Match is stale, or another write won the same version."""

    def __init__(self, expected: int, actual: int | None) -> None:
        self.expected = expected
        self.actual = actual
        now = f"; the case is at version {actual}" if actual is not None else ""
        super().__init__(f"expected version {expected}{now}")


class DuplicateCycle(ApplicationError):
    """Marking a case a duplicate of one that is (through others) a duplicate of it."""


class UnknownUnit(ApplicationError):
    def __init__(self, field: str, code: str) -> None:
        self.field = field
        self.code = code
        super().__init__(f"unknown unit '{code}'")


class IdempotencyKeyReused(ApplicationError):
    """The same Idempotency-Key came back with a different body."""


class RequestInFlight(ApplicationError):
    """A request with the same Idempotency-Key is still being processed."""


class AuthenticationFailed(ApplicationError):
    """No token, or a token that does not verify."""


class TooManyAttempts(ApplicationError):
    """Too many wrong PINs for this tracking number or from this client: wait and retry."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__("too many wrong PINs; retry later")
class StoreUnavailable(ApplicationError):
    """The database cannot be reached; nothing was tried or written. Retry after a while."""

    def __init__(self, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__("the database cannot be reached; retry shortly")
