"""`aduan report ikm` on the embedded SQLite default: the format comes from --out's suffix."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from domain.values import Actor
from domain.vocabulary import Category, Channel, Outcome
from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.cli import cli
from tests.e2e.conftest import SECRET
from tests.support import MONDAY, new_case
from tests.support_history import HEAD_ALL


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Two surveys of ULPK-PUSAT in November 2026: all 4s, and a WBS case's all 1s."""
    environment = {
        "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path}/aduan.db",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
    }
    settings = Settings(
        database_url=environment["ADUAN_DATABASE_URL"], jwt_secret=SECRET, var_dir=tmp_path
    )
    clock = ManualClock(MONDAY)
    container = bootstrap(settings, clock=clock)
    app = container.complaints
    for scores, extra in (
        ([4] * 9, {}),
        ([1] * 9, {"channel": Channel.WBS, "category": Category.ETIKA_PEGAWAI}),
    ):
        filed = app.file_case(HEAD_ALL, new_case(**extra))
        acknowledged = app.acknowledge(HEAD_ALL, filed.id, filed.version, message="diterima")
        app.close_case(
            HEAD_ALL, filed.id, acknowledged.version, outcome=Outcome.ANSWERED, answer="dijawab"
        )
        case = app.repository.get(filed.id)
        case.answer_survey(
            scores=scores, comment=None, actor=Actor("pelapor", None), at=clock.now()
        )
        app.save(case)
    container.close()
    return environment


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", "ikm", "--year", "2026", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_ikm_report_catches_the_read_model_up_and_writes_json(env, tmp_path) -> None:
    out = tmp_path / "ikm.json"
    output = _run(env, "--quarter", "4", "--unit", "ULPK-PUSAT", "--out", str(out))
    report = json.loads(out.read_text())
    # 25 x (36 + 9) / 18 = 62.50, D.
    assert (report["respondents"], report["ikm"], report["grade"]) == (2, 62.5, "D")
    assert "62.5" in output
    _run(env, "--exclude-restricted", "--out", str(out))
    report = json.loads(out.read_text())
    assert (report["respondents"], report["ikm"], report["excluded_restricted"]) == (1, 100.0, 1)


def test_csv_and_xlsx_come_from_the_suffix_and_other_suffixes_are_refused(env, tmp_path) -> None:
    _run(env, "--out", str(tmp_path / "ikm.csv"))
    _run(env, "--out", str(tmp_path / "ikm.xlsx"))
    with (tmp_path / "ikm.csv").open() as f:
        values = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(f)}
    assert values[("ikm", "ikm")] == "62.5"
    assert load_workbook(tmp_path / "ikm.xlsx").active["A1"].value.startswith("Indeks Kepuasan")
    for bad in (["--out", "x.png"], ["--unit", "NO-SUCH", "--out", "x.json"]):
        result = CliRunner().invoke(cli, ["report", "ikm", "--year", "2026", *bad], env=env)
        assert result.exit_code != 0
