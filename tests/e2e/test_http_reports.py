"""Monev recaps over HTTP: JSON, CSV, XLSX and a PNG chart; scoping, validation, restriction."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from tests.support import complaint_body

INTAKE = ("intake_officer",)
AUDITOR = {"units": ("*",), "sub": "inspektorat"}
Q4 = {"year": 2026, "quarter": 4}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _file(api, roles=INTAKE, **overrides) -> dict:
    created = api.client.post(
        "/v1/complaints", json=complaint_body(**overrides), headers=api.headers(*roles)
    )
    assert created.status_code == 201, created.text
    return created.json()


def _acknowledge(api, case: dict) -> dict:
    answer = api.client.post(
        f"/v1/complaints/{case['id']}/acknowledge",
        json={"message": "diterima"},
        headers=api.headers(*INTAKE, version=case["version"]),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _quarter(api) -> int:
    """Two complaints (one acknowledged the next day) and an information request; the position."""
    first = _file(api)
    _file(api, channel="whatsapp", category="obat")
    info = _file(api, kind="information_request", channel="web", category="pangan_olahan")
    api.clock.advance(timedelta(days=1))
    return max(_acknowledge(api, first)["position"], info["position"])


def _get(api, path="/v1/reports/monev", *, who=("auditor",), scope=AUDITOR, headers=None, **q):
    return api.client.get(path, params=q, headers=api.headers(*who, **scope) | (headers or {}))


def test_the_quarterly_recap_in_json_counts_what_was_filed(any_api) -> None:
    api = any_api
    position = _quarter(api)
    answer = _get(api, **Q4, after_position=position)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    recap = answer.json()
    assert recap["title"] == "Rekapitulasi Pengaduan dan Permintaan Informasi"
    assert recap["period"]["key"] == "2026-Q4" and recap["unit"] is None
    assert recap["position"] >= position
    assert recap["totals"]["cases"] == 3
    assert (recap["totals"]["complaints"], recap["totals"]["information_requests"]) == (2, 1)
    assert recap["by_channel"]["phone"] == 1 and recap["by_channel"]["whatsapp"] == 1
    assert recap["sla"]["acknowledge"] == {"met": 1, "missed": 0, "open": 2, "share_met": 1.0}
    assert recap["working_days"]["acknowledge"] == {"count": 1, "median": 1.0, "p90": 1}
    assert recap["top_categories"][0] == {
        "rank": 1,
        "category": "kosmetik",
        "count": 1,
        "share": 0.3333,
    }
    month = _get(api, year=2026, month=11).json()
    assert month["period"]["key"] == "2026-11" and month["totals"]["cases"] == 3
    assert _get(api, year=2026, month=10).json()["totals"]["cases"] == 0


def test_the_recap_as_csv_parses_into_sections_items_and_values(api) -> None:
    position = _quarter(api)
    answer = _get(api, **Q4, after_position=position, headers={"Accept": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="monev-2026-Q4.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    values = {(r["section"], r["item"]): r["value"] for r in rows}
    assert values[("totals", "cases")] == "3"
    assert values[("by_kind", "information_request")] == "1"
    assert values[("sla.acknowledge", "met")] == "1"
    assert values[("report", "period")] == "2026-Q4"


def test_the_recap_as_xlsx_opens_with_its_title_and_sections(api) -> None:
    position = _quarter(api)
    answer = _get(api, **Q4, after_position=position, unit="ULPK-PUSAT", headers={"Accept": XLSX})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book.active
    assert sheet["A1"].value == "Rekapitulasi Pengaduan dan Permintaan Informasi"
    assert sheet["A1"].font.bold
    column_a = [c.value for c in sheet["A"]]
    assert "Triwulan IV Tahun 2026" in [c.value for c in sheet["B"]]
    assert "ULPK-PUSAT" in [c.value for c in sheet["B"]]
    assert {"A. Ringkasan", "F. Ketepatan Waktu Layanan (SLA)"} <= set(column_a)
    total_row = column_a.index("Jumlah kasus") + 1
    assert sheet.cell(row=total_row, column=2).value == 3
    assert sheet.column_dimensions["A"].width >= 40


def test_format_wins_over_accept_and_an_unknown_accept_is_406(api) -> None:
    as_json = _get(api, **Q4, format="json", headers={"Accept": "text/csv"})
    assert as_json.headers["content-type"].startswith("application/json")
    as_xlsx = _get(api, **Q4, format="xlsx")
    assert as_xlsx.headers["content-type"] == XLSX
    preferred = _get(api, **Q4, headers={"Accept": "application/json;q=0.5, text/csv"})
    assert preferred.headers["content-type"].startswith("text/csv")
    refused = _get(api, **Q4, headers={"Accept": "image/gif"})
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_chart_of_the_quarter_is_a_png(api) -> None:
    position = _quarter(api)
    answer = _get(api, "/v1/reports/monev/chart.png", **Q4, after_position=position)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(PNG_SIGNATURE)


def test_a_unit_the_caller_does_not_serve_is_403_and_an_unknown_one_404(api) -> None:
    officer = {"who": INTAKE, "scope": {}}
    other = _get(api, **Q4, unit="BBPOM-JAKARTA", **officer)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert _get(api, **Q4, **officer).status_code == 403  # agency-wide needs units ["*"]
    assert _get(api, **Q4, unit="ULPK-PUSAT", **officer).status_code == 200
    admin = _get(api, **Q4, who=("admin",))
    assert admin.status_code == 403
    assert _get(api, **Q4, unit="NO-SUCH-UNIT").status_code == 404
    chart = _get(api, "/v1/reports/monev/chart.png", **Q4, unit="BBPOM-JAKARTA", **officer)
    assert chart.status_code == 403
    assert api.client.get("/v1/reports/monev", params=Q4).status_code == 401


def test_quarter_and_month_together_or_quarter_5_are_422(api) -> None:
    both = _get(api, year=2026, quarter=4, month=11)
    assert both.status_code == 422
    assert both.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in both.json()["errors"]} == {"quarter", "month"}
    assert _get(api, year=2026).status_code == 422
    fifth = _get(api, year=2026, quarter=5)
    assert fifth.status_code == 422
    assert any("quarter" in e["field"] for e in fifth.json()["errors"])
    assert _get(api, year=2026, month=13).status_code == 422
    assert _get(api, "/v1/reports/monev/chart.png", year=2026, quarter=0).status_code == 422
    # a unit the caller does not serve is refused before the query is judged
    officer = {"who": INTAKE, "scope": {}}
    assert _get(api, year=2026, quarter=5, unit="BBPOM-JAKARTA", **officer).status_code == 403


def test_restricted_cases_are_left_out_for_a_technical_officer_and_the_report_says_so(
    api,
) -> None:
    _file(api)
    wbs = _file(api, roles=("wbs_officer",), channel="wbs", category="etika_pegawai")
    wait = {"after_position": wbs["position"], "unit": "ULPK-PUSAT"}
    officer = _get(api, **Q4, **wait, who=("technical_officer",), scope={})
    recap = officer.json()
    assert recap["totals"]["cases"] == 1
    assert recap["excluded_restricted"] == 1
    assert recap["by_channel"]["wbs"] == 0 and recap["by_category"]["etika_pegawai"] == 0
    assert "whistle-blowing" in recap["notes"][0]
    sheet = _get(api, **Q4, **wait, format="xlsx", who=("technical_officer",), scope={}).content
    texts = [c.value for c in load_workbook(io.BytesIO(sheet)).active["A"] if c.value]
    assert any("WBS/etika pegawai tidak ditampilkan" in str(t) for t in texts)
    head = _get(api, **Q4, **wait, who=("unit_head",), scope={}).json()
    assert head["totals"]["cases"] == 2 and head["excluded_restricted"] == 0
    assert head["by_channel"]["wbs"] == 1
