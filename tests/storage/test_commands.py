"""The operations commands, run as an operator would (click's runner, a SQLite file, a key file)."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from storage.ops.fake_members import write_members_csv


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'jb.db'}", "DATA_KEY_FILE": str(tmp_path / "data.key")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_db_check_then_upgrade(env: dict[str, str]) -> None:
    result = run(env, "db", "check")
    assert result.exit_code == 1 and "jamsosbot db upgrade" in result.output
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "db", "check")
    assert result.exit_code == 0 and "(current)" in result.output


def test_import_mark_paid_export_erase(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    samples = write_members_csv(source, 12, samples=12)
    with source.open("a", newline="") as out:
        out.write("99999999999,123,Nama,1990-01-01,active,jkk+jkm,,,,,,,,\n")
    result = run(env, "import-members", str(source))
    assert result.exit_code == 0, result.output
    assert "read 13 rows: 12 imported, 1 rejected" in result.output
    assert (tmp_path / "members.csv.errors.csv").exists()

    member = samples[0]
    result = run(env, "mark-paid", member.kpj, "--months", "2", "--paid-on", "2026-03-12")
    assert result.exit_code == 0 and "-> active" in result.output
    result = run(env, "mark-paid", "nobody", "--months", "1")
    assert result.exit_code == 1 and "give a NIK" in result.output

    out = tmp_path / "registrations.csv"
    result = run(env, "export-registrations", str(out))
    assert result.exit_code == 0 and "wrote 0 registrations" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open() as f:
        assert next(csv.reader(f))[:3] == ["registration_number", "state", "created_at"]

    result = run(env, "erase", "--nik", member.nik, "--yes")
    assert result.exit_code == 0 and "erased: 1 memberships" in result.output
    assert "nothing found" in run(env, "erase", "--nik", member.nik, "--yes").output
    assert run(env, "erase", "--channel", "telegram", "--yes").exit_code == 2


def test_demo_data_prints_fake_members_to_try(env: dict[str, str]) -> None:
    result = run(env, "demo-data", "--count", "40", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "40 fake members loaded" in result.output
    assert (
        result.output.count("active") + result.output.count("inactive") + result.output.count("awaiting") >= 5
    )
