"""`aduan privacy erase` and `aduan privacy rewrap` on the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.values import Reporter
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.cli import cli
from tests.e2e.conftest import SECRET
from tests.support import INTAKE, new_case

REPORTER = Reporter(name="Siti", email="siti@example.id")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path}/aduan.db",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
        "ADUAN_MASTER_KEY": "first-master-key-" + "m" * 32,
    }


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        database_url=env["ADUAN_DATABASE_URL"],
        jwt_secret=SECRET,
        var_dir=env["ADUAN_VAR_DIR"],
        master_key=env["ADUAN_MASTER_KEY"],
    )


def test_erasing_by_tracking_number_leaves_the_reporter_erased(env) -> None:
    container = bootstrap(_settings(env))
    created = container.complaints.file_case(INTAKE, new_case(reporter=REPORTER))
    container.close()

    result = CliRunner().invoke(
        cli, ["privacy", "erase", created.tracking_number, "--reason", "permintaan 7"], env=env
    )
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, ["privacy", "erase", str(created.id), "--reason", "x"], env=env)
    assert again.exit_code == 1 and "already erased" in again.output

    container = bootstrap(_settings(env))
    shown = container.complaints.case(INTAKE, created.id).personal
    container.close()
    assert shown.reporter_hidden == "erased" and shown.description == "[erased]"


def test_after_a_master_key_change_rewrap_makes_the_data_readable_again(env) -> None:
    container = bootstrap(_settings(env))
    created = container.complaints.file_case(INTAKE, new_case(reporter=REPORTER))
    container.close()

    rotated = env | {"ADUAN_MASTER_KEY": "second-master-key-" + "n" * 32, "OLD_KEY": "nope"}
    wrong = CliRunner().invoke(cli, ["privacy", "rewrap", "--old-key-env", "OLD_KEY"], env=rotated)
    assert wrong.exit_code == 1  # nothing was changed by a wrong old key

    rotated["OLD_KEY"] = env["ADUAN_MASTER_KEY"]
    result = CliRunner().invoke(cli, ["privacy", "rewrap", "--old-key-env", "OLD_KEY"], env=rotated)
    assert result.exit_code == 0, result.output
    container = bootstrap(_settings(rotated))
    shown = container.complaints.case(INTAKE, created.id).personal
    container.close()
    assert shown.reporter == REPORTER
