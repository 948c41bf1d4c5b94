"""Migrations run on SQLite and PostgreSQL and match the models; the app refuses a schema behind the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.settings import Settings
from storage.db import make_engine, open_database
from storage.models import Base
from storage.schema import (
    SchemaOutdated,
    alembic_config,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)

REPO = Path(__file__).resolve().parents[2]


def _differences(url: str) -> list[object]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_sqlite_migrates_to_head_and_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    assert {"members", "registrations", "consents", "events", "subscribers"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
    assert _differences(url) == []


@pytest.mark.postgres
def test_postgres_migrates_to_head_and_matches_the_models(pg_url: str) -> None:
    engine = make_engine(pg_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert _differences(pg_url) == []


def test_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert _differences(url) == []


def test_a_schema_behind_the_code_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with pytest.raises(SchemaOutdated, match="jamsosbot db upgrade") as caught:
        ensure_current(engine, create_if_empty=True)
    assert "0001" in str(caught.value)
    engine.dispose()


@pytest.mark.postgres
def test_an_empty_postgres_is_refused_not_created(pg_url: str) -> None:
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    from tests.storage.conftest import PG_ADMIN_URL, _psycopg_dsn

    name = f"jb_{secrets.token_hex(6)}"
    with psycopg.connect(_psycopg_dsn(PG_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        settings = Settings.model_validate({"DATABASE_URL": url, "DATA_KEY": "A" * 43 + "="})
        with pytest.raises(SchemaOutdated, match="jamsosbot db upgrade"):
            open_database(settings)
    finally:
        with psycopg.connect(_psycopg_dsn(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_embedded_default_creates_its_file_on_first_run(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'sub' / 'jamsosbot.db'}",
            "DATA_KEY_FILE": str(tmp_path / "key"),
        }
    )
    db = open_database(settings)
    try:
        assert current_revision(db.engine) == head_revision() and db.ping()
    finally:
        db.dispose()


def test_alembic_upgrade_head_from_the_repository(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    engine = make_engine(env["DATABASE_URL"])
    assert current_revision(engine) == head_revision()
    engine.dispose()
