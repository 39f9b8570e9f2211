"""A unit's IKM weights set by an admin, and the IKM inside the monev recap, over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from tests.e2e.test_http_ikm import AUDITOR, ELEMENTS, HEAD, Q4, R1, R2, R3, get, surveyed

ADMIN = {"units": ("*",), "sub": "admin-pusat"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Persyaratan weighs 0.2, the other eight 0.1 each: sum 0.2 + 0.8 = 1.
HEAVY_FIRST = dict(zip(ELEMENTS, ["0.2"] + ["0.1"] * 8, strict=True))


def set_weights(api, weights, unit="ULPK-PUSAT", **extra):
    body = {"unit": unit, "weights": weights, "description": "Maklumat 2026"} | extra
    return api.client.post(
        "/v1/admin/ikm-weights", json=body, headers=api.headers("admin", **ADMIN)
    )


def test_an_admin_sets_a_units_weights_and_the_units_ikm_uses_them(api) -> None:
    # One respondent: a 4 on persyaratan, 2 on the other eight.
    position = surveyed(api, [4] + [2] * 8)
    # Equal weights: 25 x 20 / 9 = 55.555.. -> 55.56.
    before = get(api, **AUDITOR, **Q4, unit="ULPK-PUSAT", after_position=position).json()
    assert (before["ikm"], before["weights"]) == (55.56, ["1/9"] * 9)
    answer = set_weights(api, HEAVY_FIRST)
    assert answer.status_code == 201, answer.text
    saved = answer.json()
    assert (saved["unit"], saved["version"], saved["set_by"]) == ("ULPK-PUSAT", 1, "admin-pusat")
    assert (
        saved["weights"]["persyaratan"] == "0.2" and saved["weights"]["sarana_prasarana"] == "0.1"
    )
    # Weighted: 25 x (0.2 x 4 + 0.1 x 8 x 2) = 25 x 2.4 = 60.00, D.
    after = get(api, **AUDITOR, **Q4, unit="ULPK-PUSAT").json()
    assert (after["ikm"], after["grade"]) == (60.0, "D")
    assert after["weights"] == ["0.2"] + ["0.1"] * 8
    assert "version 1" in after["weights_note"]
    # Agency-wide stays on equal weights.
    assert get(api, **AUDITOR, **Q4).json()["ikm"] == 55.56
    # Back to equal weights: a version 2 with null weights.
    reset = set_weights(api, None)
    assert reset.status_code == 201 and reset.json()["version"] == 2
    assert reset.json()["weights"] is None
    assert get(api, **AUDITOR, **Q4, unit="ULPK-PUSAT").json()["ikm"] == 55.56
    listed = api.client.get("/v1/admin/ikm-weights", headers=api.headers("admin", **ADMIN))
    assert [(w["unit"], w["version"]) for w in listed.json()["items"]] == [
        ("ULPK-PUSAT", 1),
        ("ULPK-PUSAT", 2),
    ]


def test_a_period_uses_the_weights_in_force_at_its_end(api) -> None:
    # A Q3 survey (30 Sept, 10:00 WIB) and weights set in November: Q3 keeps equal weights.
    position = surveyed(api, [4] + [2] * 8, at=datetime(2026, 9, 30, 3, 0, tzinfo=UTC))
    api.clock.set(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    assert set_weights(api, HEAVY_FIRST).status_code == 201
    q3 = get(api, **AUDITOR, year=2026, quarter=3, unit="ULPK-PUSAT", after_position=position)
    assert (q3.json()["ikm"], q3.json()["weights"]) == (55.56, ["1/9"] * 9)
    # The whole year ends after the change: 60.00.
    assert get(api, **AUDITOR, year=2026, unit="ULPK-PUSAT").json()["ikm"] == 60.0


def test_weights_that_do_not_sum_to_one_or_miss_an_element_are_refused(api) -> None:
    cases = [
        dict.fromkeys(ELEMENTS, "0.11"),  # 0.99
        dict(zip(ELEMENTS, ["0.2"] * 9, strict=True)),  # 1.8
        dict(list(HEAVY_FIRST.items())[:8]),  # eight elements
        HEAVY_FIRST | {"maklumat": "0.1"},  # an unknown element
        HEAVY_FIRST | {"persyaratan": "-0.2"},
        HEAVY_FIRST | {"persyaratan": "1e999999999"},
        HEAVY_FIRST | {"persyaratan": "abc"},
    ]
    for weights in cases:
        answer = set_weights(api, weights)
        assert answer.status_code == 422, (weights, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert set_weights(api, HEAVY_FIRST, unit="NO-SUCH").status_code == 422
    assert set_weights(api, HEAVY_FIRST, extra_field=1).status_code == 422
    head = api.client.post(
        "/v1/admin/ikm-weights",
        json={"unit": "ULPK-PUSAT", "weights": HEAVY_FIRST},
        headers=api.headers("unit_head", units=("ULPK-PUSAT",)),
    )
    assert head.status_code == 403
    # JSON numbers are taken as written: 0.1 is exactly 1/10, not the nearest binary float.
    numbers = dict(zip(ELEMENTS, [0.2] + [0.1] * 8, strict=True))
    assert set_weights(api, numbers).status_code == 201
    listed = api.client.get("/v1/admin/ikm-weights", headers=api.headers("admin", **ADMIN))
    assert len(listed.json()["items"]) == 1


def test_the_monev_recap_carries_the_units_and_the_agencys_ikm(api) -> None:
    for scores in (R1, R2, R3):
        surveyed(api, scores)
    position = surveyed(api, [4] * 9, unit="BBPOM-JAKARTA")
    recap = get(
        api, "/v1/reports/monev", **HEAD, **Q4, unit="ULPK-PUSAT", after_position=position
    ).json()
    # The unit: 25 x 85 / 27 = 78.70, B; the agency: 25 x 121 / 36 = 84.03, B.
    assert recap["ikm"]["unit"] == {
        "unit": "ULPK-PUSAT",
        "respondents": 3,
        "ikm": 78.7,
        "grade": "B",
        "grade_label": "Baik",
        "flagged": 1,
        "excluded_restricted": 0,
    }
    assert (recap["ikm"]["agency"]["respondents"], recap["ikm"]["agency"]["ikm"]) == (4, 84.03)
    # By month: November holds all four surveys, October none.
    november = get(api, "/v1/reports/monev", **AUDITOR, year=2026, month=11).json()
    assert (
        november["ikm"]
        == {
            "unit": None,
            "agency": november["ikm"]["agency"],
        }
        and november["ikm"]["agency"]["ikm"] == 84.03
    )
    october = get(api, "/v1/reports/monev", **AUDITOR, year=2026, month=10).json()
    assert october["ikm"]["agency"]["respondents"] == 0 and october["ikm"]["agency"]["ikm"] is None
    as_csv = get(api, "/v1/reports/monev", **HEAD, **Q4, unit="ULPK-PUSAT", format="csv")
    values = {
        (r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(as_csv.text))
    }
    assert values[("ikm.unit", "ikm")] == "78.7"
    assert values[("ikm.agency", "grade")] == "B"
    as_xlsx = get(api, "/v1/reports/monev", **HEAD, **Q4, unit="ULPK-PUSAT", format="xlsx")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    rows = {r[0]: r[1:] for r in sheet.iter_rows(values_only=True) if r[0] is not None}
    assert "K. Indeks Kepuasan Masyarakat (IKM)" in rows
    assert rows["Unit ULPK-PUSAT"][:3] == (3, 78.7, "B")
    assert rows["Seluruh unit (tingkat badan)"][:3] == (4, 84.03, "B")
