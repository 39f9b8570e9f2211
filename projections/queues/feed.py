"""The live feed of a unit's queue: what changed, announced after each committed batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from projections.queues.view import QueueChanges


class QueueFeed(Protocol):
    def publish(self, unit: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, unit: str, deliver: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``deliver`` with each message for ``unit`` until the returned function is called."""
        ...


def queue_messages(changes: QueueChanges, position: int) -> list[tuple[str, dict[str, Any]]]:
    """One message per changed case, to its handling unit and (if different) its intake unit."""
    messages = []
    for item in changes.items.values():
        message = {
            "id": str(item.id),
            "status": item.status,
            "version": item.version,
            "handling_unit": item.handling_unit,
            "next_stage": item.next_stage,
            "next_due_at": item.next_due_at.isoformat() if item.next_due_at else None,
            "waiting_for_complainant": item.waiting_for_complainant,
            "restricted": item.restricted,
            "position": position,
        }
        for unit in dict.fromkeys((item.handling_unit, item.intake_unit)):
            messages.append((unit, message))
    return messages
