"""Reading the complainants' survey comments for the unit head's review of flagged cases."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from application.access import Principal, can_see
from application.complaints import Complaints
from application.privacy import record_read
from domain.complaint import Complaint


def survey_comments(
    complaints: Complaints, principal: Principal, case_ids: Iterable[UUID]
) -> dict[UUID, str | None]:
    """Each case's survey comment (None: none given), for the cases the caller may read.

    Comments are the complainant's free text, sealed with the case's data key like the
    description: only callers who see the case read them (others get no entry), a reporter
    erasure makes them unreadable, and reads of confidential and WBS cases are logged.
    """
    found: dict[UUID, str | None] = {}
    now = complaints.clock.now()
    for case_id in case_ids:
        case: Complaint | None = None
        survey: Complaint.SurveyAnswered | None = None
        for event in complaints.events.get(case_id):
            case = event.mutate(case)
            if isinstance(event, Complaint.SurveyAnswered):
                survey = event
        if case is None or survey is None or not can_see(principal, case):
            continue
        record_read(complaints.access_log, principal, case, "survey-review", now)
        found[case_id] = complaints.personal_data.opener(case_id).text("comment", survey.comment)
    return found
