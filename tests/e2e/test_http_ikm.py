"""The IKM over HTTP: surveys in, the index, its files, flagged cases, scoping and restriction.

Every expected figure is computed by hand in the comments (PermenPANRB 14/2017: NRR per element
= total / respondents; IKM = 25 x sum(NRR) / 9 with equal weights, rounded once, half up).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from uuid import UUID

import pytest
from openpyxl import load_workbook

from domain.values import Actor
from interfaces.rebuild import rebuild
from tests.support import complaint_body

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INTAKE = ("intake_officer",)
AUDITOR = {"who": ("auditor",), "scope": {"units": ("*",), "sub": "inspektorat"}}
HEAD = {"who": ("unit_head",), "scope": {"units": ("ULPK-PUSAT",), "sub": "kepala"}}
Q4 = {"year": 2026, "quarter": 4}
ELEMENTS = [
    "persyaratan",
    "sistem_mekanisme_prosedur",
    "waktu_penyelesaian",
    "biaya_tarif",
    "produk_spesifikasi_jenis_pelayanan",
    "kompetensi_pelaksana",
    "perilaku_pelaksana",
    "penanganan_pengaduan_saran_masukan",
    "sarana_prasarana",
]
# The worked example: three respondents of ULPK-PUSAT.
R1 = [4, 3, 3, 2, 4, 3, 4, 3, 4]  # sum 30
R2 = [3, 3, 2, 2, 3, 4, 4, 3, 3]  # sum 27
R3 = [4, 4, 3, 1, 3, 3, 4, 2, 4]  # sum 28, a 1 on biaya_tarif: flagged
SURVEY_DAY = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 WIB, Q4


@pytest.fixture(params=["api", "sqlite_api"])
def any_api(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def closed_case(api, unit: str = "ULPK-PUSAT", **overrides) -> dict:
    """A case filed, acknowledged and answered at ``unit`` (first-contact close)."""
    roles = ("intake_officer", "wbs_officer", "unit_head")
    headers = api.headers(*roles, units=(unit,), sub=f"petugas-{api.stored_events()}")
    created = api.client.post(
        "/v1/complaints", json=complaint_body(intake_unit=unit, **overrides), headers=headers
    )
    assert created.status_code == 201, created.text
    case = created.json()
    for path, body in (
        ("acknowledge", {"message": "diterima"}),
        ("close", {"outcome": "answered", "answer": "sudah dijawab"}),
    ):
        answer = api.client.post(
            f"/v1/complaints/{case['id']}/{path}",
            json=body,
            headers=headers | {"If-Match": f'"{case["version"]}"'},
        )
        assert answer.status_code == 200, answer.text
        case = case | answer.json()
    return case


def answer_survey(api, case: dict, scores: list[int], comment: str | None = None, at=None) -> int:
    """The complainant's survey, through the application (the public route is built apart)."""
    complaints = api.container.complaints
    if at is not None:
        api.clock.set(at)
    now = api.clock.now()
    found = complaints.repository.get(UUID(case["id"]))
    found.answer_survey(
        scores=scores,
        comment=comment,
        actor=Actor("pelapor", None),
        at=now,
        sealer=complaints.personal_data.sealer_for(found, now),
    )
    return complaints.save(found)[-1].notification.id


def surveyed(api, scores: list[int], unit: str = "ULPK-PUSAT", at=SURVEY_DAY, **kw) -> int:
    comment = kw.pop("comment", None)
    case = closed_case(api, unit, **kw)
    return answer_survey(api, case, scores, comment, at)


def get(api, path="/v1/reports/ikm", *, who, scope, headers=None, **query):
    return api.client.get(path, params=query, headers=api.headers(*who, **scope) | (headers or {}))


def test_the_worked_example_gives_78_70_grade_b_for_the_unit(any_api) -> None:
    api = any_api
    for scores in (R1, R2, R3):
        position = surveyed(api, scores)
    # Another unit's respondent, all 4s (sum 36): not in ULPK-PUSAT's index.
    position = surveyed(api, [4] * 9, unit="BBPOM-JAKARTA")
    answer = get(api, **AUDITOR, **Q4, unit="ULPK-PUSAT", after_position=position)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["year"], report["quarter"], report["unit"]) == (2026, 4, "ULPK-PUSAT")
    assert report["respondents"] == 3
    # Element totals 11, 10, 8, 5, 10, 10, 12, 8, 11; NRR = total / 3, shown half up to 2 places.
    assert [e["element"] for e in report["elements"]] == ELEMENTS
    assert [e["total"] for e in report["elements"]] == [11, 10, 8, 5, 10, 10, 12, 8, 11]
    assert [e["nrr"] for e in report["elements"]] == [
        3.67, 3.33, 2.67, 1.67, 3.33, 3.33, 4.0, 2.67, 3.67
    ]  # fmt: skip
    # IKM = 25 x 85 / 27 = 78.7037.. -> 78.70: B, Baik.
    assert (report["ikm"], report["grade"], report["grade_label"]) == (78.7, "B", "Baik")
    assert report["weights"] == ["1/9"] * 9
    assert "half up" in report["rounding"]
    assert report["flagged"] == 1 and report["excluded_restricted"] == 0

    # Agency-wide, pooled: 85 + 36 = 121 points over 4 x 9 scores; 25 x 121 / 36 = 84.0277..
    # -> 84.03, B. Totals grow by 4 each; persyaratan's NRR = 15 / 4 = 3.75.
    agency = get(api, **AUDITOR, **Q4).json()
    assert (agency["unit"], agency["respondents"], agency["ikm"], agency["grade"]) == (
        None,
        4,
        84.03,
        "B",
    )
    assert agency["elements"][0] == {"element": "persyaratan", "total": 15, "nrr": 3.75}
    # The whole year holds the same four surveys; another quarter none.
    year = get(api, **AUDITOR, year=2026).json()
    assert (year["quarter"], year["respondents"], year["ikm"]) == (None, 4, 84.03)
    empty = get(api, **AUDITOR, year=2026, quarter=3).json()
    assert (empty["respondents"], empty["ikm"], empty["grade"]) == (0, None, None)
    assert [e["nrr"] for e in empty["elements"]] == [None] * 9


def test_a_survey_counts_in_the_period_of_its_date_in_its_units_time_zone(api) -> None:
    # 2026-12-31 15:30 UTC is 22:30 WIB and 23:30 WITA (still 2026, Q4) but 00:30 WIT on
    # 1 January 2027 in Jayapura (2027, Q1).
    at = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    surveyed(api, [4] * 9, unit="BBPOM-MAKASSAR", at=at)
    position = surveyed(api, [2] * 9, unit="BBPOM-JAYAPURA", at=at)
    q4 = get(api, **AUDITOR, **Q4, after_position=position).json()
    q1 = get(api, **AUDITOR, year=2027, quarter=1).json()
    # Q4: Makassar alone, all 4s: 100.00 A. Q1 2027: Jayapura alone, all 2s: 25 x 2 = 50.00 D.
    assert (q4["respondents"], q4["ikm"], q4["grade"]) == (1, 100.0, "A")
    assert (q1["respondents"], q1["ikm"], q1["grade"], q1["grade_label"]) == (
        1,
        50.0,
        "D",
        "Tidak Baik",
    )
    jayapura = get(api, **AUDITOR, year=2027, unit="BBPOM-JAYAPURA").json()
    assert jayapura["respondents"] == 1


def test_restricted_surveys_are_left_out_for_those_who_may_not_see_them_and_said_so(api) -> None:
    surveyed(api, [4] * 9)
    # A whistle-blowing case's survey, all 1s.
    position = surveyed(api, [1] * 9, channel="wbs", category="yanblik_petugas")
    # The auditor (no grant) sees one respondent, all 4s: 100.00.
    auditor = get(api, **AUDITOR, **Q4, after_position=position).json()
    assert (auditor["respondents"], auditor["ikm"], auditor["excluded_restricted"]) == (1, 100.0, 1)
    assert auditor["notes"] and "left out" in auditor["notes"][0]
    assert auditor["flagged"] == 0
    # The unit head sees both: 25 x (36 + 9) / 18 = 62.50, D.
    head = get(api, **HEAD, **Q4, unit="ULPK-PUSAT").json()
    assert (head["respondents"], head["ikm"], head["grade"]) == (2, 62.5, "D")
    assert head["excluded_restricted"] == 0 and head["flagged"] == 1


def test_the_index_as_csv_and_xlsx(api) -> None:
    for scores in (R1, R2, R3):
        position = surveyed(api, scores)
    as_csv = get(api, **AUDITOR, **Q4, unit="ULPK-PUSAT", after_position=position, format="csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="ikm-2026-Q4-ULPK-PUSAT.csv"' in as_csv.headers["content-disposition"]
    values = {
        (r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(as_csv.text))
    }
    assert values[("ikm", "ikm")] == "78.7"
    assert values[("ikm", "grade")] == "B"
    assert values[("ikm", "respondents")] == "3"
    assert values[("element.biaya_tarif", "nrr")] == "1.67"
    assert values[("element.biaya_tarif", "weight")] == "1/9"

    as_xlsx = get(api, **AUDITOR, year=2026, unit="ULPK-PUSAT", headers={"Accept": XLSX})
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert as_xlsx.headers["content-type"] == XLSX
    assert 'filename="ikm-2026-ULPK-PUSAT.xlsx"' in as_xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    cells = {row[0]: row[1:] for row in sheet.iter_rows(values_only=True) if row[0] is not None}
    assert sheet["A1"].value == "Indeks Kepuasan Masyarakat (IKM)"
    assert cells["Periode"][0] == "Tahun 2026"
    assert cells["Nilai IKM (konversi)"][0] == 78.7
    assert cells["Mutu pelayanan"][0] == "B"
    assert cells["Kinerja unit pelayanan"][0] == "Baik"
    assert cells[4][:3] == ("Biaya/Tarif", 5, 1.67)  # row "No 4"


def test_flagged_surveys_list_the_low_elements_and_the_comment_for_the_unit_head(api) -> None:
    surveyed(api, R1)
    flagged = closed_case(api)
    position = answer_survey(api, flagged, R3, "Biaya tidak jelas", SURVEY_DAY)
    wbs = closed_case(api, channel="wbs", category="yanblik_petugas")
    position = answer_survey(api, wbs, [1] * 9, None, SURVEY_DAY)
    head = get(api, "/v1/reports/ikm/flagged", **HEAD, unit="ULPK-PUSAT", after_position=position)
    assert head.status_code == 200, head.text
    listed = head.json()
    assert [i["id"] for i in listed["items"]] == sorted([flagged["id"], wbs["id"]])
    item = next(i for i in listed["items"] if i["id"] == flagged["id"])
    assert item["tracking_number"] == flagged["tracking_number"]
    assert item["low_elements"] == ["biaya_tarif"] and item["scores"] == R3
    assert (item["comment"], item["comment_hidden"]) == ("Biaya tidak jelas", False)
    assert item["answered_at"].startswith("2026-11-20T03:00")
    assert listed["excluded_restricted"] == 0 and listed["more"] is False
    # The auditor (no grant): the WBS case left out and counted; the comment readable.
    auditor = get(api, "/v1/reports/ikm/flagged", **AUDITOR).json()
    assert [i["id"] for i in auditor["items"]] == [flagged["id"]]
    assert auditor["items"][0]["comment"] == "Biaya tidak jelas"
    assert auditor["excluded_restricted"] == 1
    # Technical and intake officers review nothing; the head of another unit neither.
    officer = {"who": ("technical_officer",), "scope": {"units": ("ULPK-PUSAT",)}}
    assert get(api, "/v1/reports/ikm/flagged", **officer, unit="ULPK-PUSAT").status_code == 403
    elsewhere = get(api, "/v1/reports/ikm/flagged", **HEAD, unit="BBPOM-JAKARTA")
    assert elsewhere.status_code == 403
    assert get(api, "/v1/reports/ikm/flagged", **HEAD).status_code == 403  # agency-wide
    assert get(api, "/v1/reports/ikm/flagged", **HEAD, unit="NO-SUCH").status_code == 404
    limited = get(api, "/v1/reports/ikm/flagged", **HEAD, unit="ULPK-PUSAT", limit=1).json()
    assert len(limited["items"]) == 1 and limited["more"] is True


def test_an_erased_reporters_comment_reads_erased(api) -> None:
    case = closed_case(api)
    position = answer_survey(api, case, R3, "Petugas tidak ramah", SURVEY_DAY)
    version = api.container.complaints.repository.get(UUID(case["id"])).version
    erased = api.client.post(
        f"/v1/complaints/{case['id']}/erase-reporter",
        json={"reason": "permintaan pelapor"},
        headers=api.headers("admin", units=("*",), sub="admin", version=version),
    )
    assert erased.status_code == 200, erased.text
    listed = get(api, "/v1/reports/ikm/flagged", **HEAD, unit="ULPK-PUSAT", after_position=position)
    assert listed.json()["items"][0]["comment"] == "[erased]"


def test_scoping_and_bad_input_follow_the_monev_rules(api) -> None:
    officer = {"who": INTAKE, "scope": {}}
    assert get(api, **officer, **Q4, unit="ULPK-PUSAT").status_code == 200
    assert get(api, **officer, **Q4, unit="BBPOM-JAKARTA").status_code == 403
    assert get(api, **officer, **Q4).status_code == 403  # agency-wide needs units ["*"]
    assert get(api, who=("admin",), scope={"units": ("*",)}, **Q4).status_code == 403
    assert get(api, **AUDITOR, **Q4, unit="NO-SUCH-UNIT").status_code == 404
    assert api.client.get("/v1/reports/ikm", params=Q4).status_code == 401
    for bad in ({"year": 2026, "quarter": 5}, {"year": 1999}, {}, {"year": "x"}):
        answer = get(api, **AUDITOR, **bad)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"] == "application/problem+json"
    # 403 before 422: a unit not served with a bad quarter is 403.
    assert get(api, **officer, year=2026, quarter=9, unit="BBPOM-JAKARTA").status_code == 403
    assert get(api, **AUDITOR, **Q4, headers={"Accept": "image/gif"}).status_code == 406


def test_a_rebuilt_surveys_read_model_gives_the_same_index(api) -> None:
    for scores in (R1, R2, R3):
        position = surveyed(api, scores)
    before = get(api, **AUDITOR, **Q4, after_position=position).json()
    stats = rebuild(api.container, "surveys")
    assert stats.generation == 2
    after = get(api, **AUDITOR, **Q4, after_position=position).json()
    drop = ("generated_at", "position")
    assert {k: v for k, v in after.items() if k not in drop} == {
        k: v for k, v in before.items() if k not in drop
    }
    assert after["ikm"] == 78.7
