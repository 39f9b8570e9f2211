"""Named rule violations of the domain; the HTTP layer maps each to one problem type."""

from __future__ import annotations


class ComplaintError(Exception):
    """A command broke a rule of the complaint domain."""


class TransitionNotAllowed(ComplaintError):
    """The command is not allowed from the case's current status."""

    def __init__(self, command: str, status: str, allowed_from: tuple[str, ...] = ()) -> None:
        self.command = command
        self.status = status
        self.allowed_from = allowed_from
        allowed = f" (allowed from: {', '.join(allowed_from)})" if allowed_from else ""
        super().__init__(f"'{command}' is not allowed while the case is '{status}'{allowed}")


class InvalidCommand(ComplaintError):
    """A command's arguments are inconsistent with each other or with the case."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
