"""Keeps one survey row per surveyed case up to date from the case events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.complaint import Complaint
from projections.casework import CaseProjection
from projections.runner import LoggedEvent
from projections.surveys.view import SurveyChanges, SurveyRow


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
        answered = [
            e.event
            for e in batch
            if e.originator_id == case.id and isinstance(e.event, Complaint.SurveyAnswered)
        ]
        if answered:
            changes.rows[case.id] = self.row(case, answered[-1])
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
