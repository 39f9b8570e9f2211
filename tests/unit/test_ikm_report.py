"""The IKM report from survey rows: period, unit, restriction, pooling (pure, in memory)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ikm import round_half_up
from projections.surveys.report import ikm_report, ikm_summary
from projections.surveys.view import SurveyRow

NOW = datetime(2026, 12, 1, tzinfo=UTC)
UNITS = ("ULPK-PUSAT", "BBPOM-JAKARTA", "BBPOM-JAYAPURA")

rows = st.lists(
    st.builds(
        lambda scores, unit, month, restricted: SurveyRow(
            id=uuid4(),
            tracking_number="ADU",
            unit=unit,
            answered_at=NOW,
            year=2026,
            quarter=(month + 2) // 3,
            month=month,
            scores=tuple(scores),
            flagged=1 in scores,
            restricted=restricted,
        ),
        st.lists(st.integers(1, 4), min_size=9, max_size=9),
        st.sampled_from(UNITS),
        st.integers(1, 12),
        st.booleans(),
    ),
    max_size=30,
)


def report(found, **kw):
    return ikm_report(found, generated_at=NOW, **({"year": 2026, "quarter": 4} | kw))


@settings(deadline=None, max_examples=150)
@given(rows, st.booleans())
def test_the_agency_pools_every_visible_respondent_of_the_period(found, restricted) -> None:
    whole = report(found, unit=None, include_restricted=restricted)
    chosen = [r for r in found if r.quarter == 4 and (restricted or not r.restricted)]
    assert whole["respondents"] == len(chosen)
    assert whole["excluded_restricted"] == (
        0 if restricted else sum(r.restricted for r in found if r.quarter == 4)
    )
    assert sum(
        report(found, unit=u, include_restricted=restricted)["respondents"] for u in UNITS
    ) == len(chosen)
    if chosen:
        exact = Fraction(25 * sum(sum(r.scores) for r in chosen), 9 * len(chosen))
        assert Decimal(str(whole["ikm"])) == round_half_up(exact, 2)
        assert whole["flagged"] == sum(r.flagged for r in chosen)
    else:
        assert whole["ikm"] is None and whole["grade"] is None
    year = report(found, unit=None, include_restricted=True, quarter=None)
    assert year["respondents"] == len(found)
    summary = ikm_summary(found, months=(10, 11, 12), unit=None, include_restricted=restricted)
    assert (summary["respondents"], summary["ikm"]) == (whole["respondents"], whole["ikm"])
