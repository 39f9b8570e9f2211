"""Keeps one survey row per surveyed case up to date from the case events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from domain.complaint import Complaint
from projections.casework import CaseProjection
from projections.runner import LoggedEvent, memo_of
from projections.surveys.view import SurveyChanges, SurveyRow

SURVEY_TOPIC = get_topic(Complaint.SurveyAnswered)


def surveys_in(batch: Sequence[LoggedEvent]) -> dict[UUID, LoggedEvent]:
    """The batch's surveys by case, found once per batch (by topic: nothing else is decoded)."""
    memo = memo_of(batch)
    if memo is not None and "surveys" in memo:
        return memo["surveys"]  # type: ignore[no-any-return]
    found = {e.originator_id: e for e in batch if e.topic == SURVEY_TOPIC}
    if memo is not None:
        memo["surveys"] = found
    return found


class SurveyProjection(CaseProjection):
    """Every case's state is kept (a survey comes long after the case opened, and whether the
    case is restricted comes from the whole case); a row is written once its survey is in."""

    name = "surveys"
    version = 1

    def new_changes(self) -> SurveyChanges:
        return SurveyChanges()

    def record(
        self, changes: SurveyChanges, case: Complaint, at: datetime, batch: Sequence[LoggedEvent]
    ) -> None:
        survey = surveys_in(batch).get(case.id)
        if survey is not None:
            changes.rows[case.id] = self.row(case, survey.event)
        elif case.survey_answered_at is not None:
            changes.restricted[case.id] = case.is_restricted

    def row(self, case: Complaint, survey: Complaint.SurveyAnswered) -> SurveyRow:
        local = survey.timestamp.astimezone(ZoneInfo(self.zone_of(survey.unit)))
        return SurveyRow(
            id=case.id,
            tracking_number=case.tracking_number,
            unit=survey.unit,
            answered_at=survey.timestamp,
            year=local.year,
            quarter=(local.month - 1) // 3 + 1,
            month=local.month,
            scores=tuple(survey.scores),
            flagged=survey.flagged,
            restricted=case.is_restricted,
        )
