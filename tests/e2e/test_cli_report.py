"""`aduan report monev` on the embedded SQLite default: the format comes from --out's suffix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from domain.vocabulary import Category, Channel
from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.cli import cli
from tests.e2e.conftest import SECRET
from tests.support import MONDAY, new_case
from tests.support_history import HEAD_ALL


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path}/aduan.db",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
    }
    settings = Settings(
        database_url=environment["ADUAN_DATABASE_URL"], jwt_secret=SECRET, var_dir=tmp_path
    )
    container = bootstrap(settings, clock=ManualClock(MONDAY))
    container.complaints.file_case(HEAD_ALL, new_case())
    container.complaints.file_case(HEAD_ALL, new_case(intake_unit="BBPOM-JAKARTA"))
    container.complaints.file_case(
        HEAD_ALL, new_case(channel=Channel.WBS, category=Category.ETIKA_PEGAWAI)
    )
    container.close()
    return environment


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", "monev", "--year", "2026", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_report_catches_the_read_model_up_and_writes_json(env, tmp_path) -> None:
    out = tmp_path / "q4.json"
    _run(env, "--quarter", "4", "--out", str(out))
    recap = json.loads(out.read_text())
    assert recap["period"]["key"] == "2026-Q4"
    assert recap["totals"]["cases"] == 3 and recap["excluded_restricted"] == 0


def test_a_unit_report_without_restricted_cases_says_how_many_it_left_out(env, tmp_path) -> None:
    out = tmp_path / "pusat.json"
    _run(env, "--month", "11", "--unit", "ULPK-PUSAT", "--exclude-restricted", "--out", str(out))
    recap = json.loads(out.read_text())
    assert recap["unit"] == "ULPK-PUSAT" and recap["period"]["key"] == "2026-11"
    assert recap["totals"]["cases"] == 1 and recap["excluded_restricted"] == 1


def test_xlsx_csv_and_png_come_from_the_suffix(env, tmp_path) -> None:
    for suffix in ("xlsx", "csv", "png"):
        _run(env, "--quarter", "4", "--out", str(tmp_path / f"q4.{suffix}"))
    sheet = load_workbook(tmp_path / "q4.xlsx").active
    assert sheet["A1"].value == "Rekapitulasi Pengaduan dan Permintaan Informasi"
    assert (tmp_path / "q4.csv").read_text().startswith("section,item,value")
    assert (tmp_path / "q4.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "args",
    [
        ["--quarter", "4", "--month", "11", "--out", "x.json"],
        ["--out", "x.json"],
        ["--quarter", "5", "--out", "x.json"],
        ["--quarter", "4", "--out", "x.pdf"],
        ["--quarter", "4", "--unit", "NO-SUCH-UNIT", "--out", "x.json"],
    ],
)
def test_bad_arguments_are_refused(env, args) -> None:
    result = CliRunner().invoke(cli, ["report", "monev", "--year", "2026", *args], env=env)
    assert result.exit_code != 0
