"""Keeps the duplicates read model from the case events (event by event, no case replay)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from domain.complaint import CONFIDENTIAL_CHANNELS, RESTRICTED_CATEGORIES, Complaint
from domain.values import SealedReporter
from domain.vocabulary import Category, Channel
from projections.casework import is_case_event
from projections.duplicates.view import CaseRow, DuplicateChanges, DuplicateView
from projections.read_side import storable_text
from projections.runner import LoggedEvent

# Opens the sealed texts of many cases at once: [(case id, {field: sealed value})] -> in the same
# order, {field: text, or None once its key is destroyed}. The composition root gives the
# application's own unsealing (one key-store query per batch).
TextOpener = Callable[[list[tuple[UUID, dict[str, Any]]]], list[dict[str, "str | None"]]]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![A-Za-z0-9])\+?\d[\d ().-]{6,}\d")
_NAME_PART = 3  # name parts this long or longer are taken out one by one


class DuplicateProjection:
    name = "duplicates"
    version = 2  # 2: the trigram index holds open cases only (a new index: rebuild)

    def __init__(self, open_text: TextOpener) -> None:
        self.open_text = open_text

    def wants(self, topic: str) -> bool:
        return is_case_event(topic)

    def process(self, events: Sequence[LoggedEvent], view: DuplicateView) -> DuplicateChanges:
        received = [
            (e.originator_id, e.event) for e in events if isinstance(e.event, Complaint.Received)
        ]
        opened = dict(
            zip(
                (case_id for case_id, _ in received),
                self.open_text([(case_id, _sealed_texts(e)) for case_id, e in received]),
                strict=True,
            )
        )
        changes = DuplicateChanges()
        for logged in events:
            event, case_id = logged.event, logged.originator_id
            if isinstance(event, Complaint.Received):
                changes.rows[case_id] = self.row(case_id, event, opened[case_id])
            elif isinstance(event, Complaint.Routed):
                changes.change(case_id, handling_unit=event.to_unit)
            elif isinstance(event, Complaint.Closed):
                changes.change(case_id, is_open=False, duplicate_of=event.duplicate_of)
            elif isinstance(event, Complaint.Reopened):
                changes.change(case_id, is_open=True, duplicate_of=None)
            elif isinstance(event, Complaint.ReporterErased):
                changes.erase(case_id)
        return changes

    def row(
        self, case_id: UUID, event: Complaint.Received, opened: dict[str, str | None]
    ) -> CaseRow:
        reporter = event.reporter
        sealed = reporter if isinstance(reporter, SealedReporter) else None
        description = opened["description"]
        if description:
            description = scrubbed(
                description, (opened.get("reporter.name"), opened.get("reporter.address"))
            )
        subject = storable_text(event.subject)
        text = subject if not description else f"{subject}\n{storable_text(description)}"
        return CaseRow(
            id=case_id,
            tracking_number=event.tracking_number,
            category=event.category,
            subject=subject,
            received_at=event.received_at,
            intake_unit=event.intake_unit,
            handling_unit=event.intake_unit,
            restricted=Channel(event.channel) in CONFIDENTIAL_CHANNELS
            or Category(event.category) in RESTRICTED_CATEGORIES,
            anonymous=event.anonymous,
            is_open=True,
            product_registration=event.product_registration,
            email_match=sealed.email_match if sealed else None,
            phone_match=sealed.phone_match if sealed else None,
            match_text=text,
            duplicate_of=None,
        )


def _sealed_texts(event: Complaint.Received) -> dict[str, Any]:
    """What a row needs opened: the description, and the reporter's name and address (to take
    them out of it)."""
    texts: dict[str, Any] = {"description": event.description}
    if isinstance(event.reporter, SealedReporter):
        texts |= {"reporter.name": event.reporter.name, "reporter.address": event.reporter.address}
    return texts


def scrubbed(text: str, identity: tuple[str | None, ...]) -> str:
    """The description without what says who the reporter is: email addresses, phone numbers,
    the reporter's name and address (``identity``). What stays is still personal data (kept only
    until the reporter is erased), but a planted contact never reaches the table."""
    text = _PHONE.sub(" ", _EMAIL.sub(" ", text))
    for value in identity:
        if not value:
            continue
        parts = [value, *(p for p in re.split(r"[\s,.]+", value) if len(p) >= _NAME_PART)]
        for part in sorted(parts, key=len, reverse=True):
            text = re.sub(re.escape(part), " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())
