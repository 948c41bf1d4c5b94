"""Databases for the storage tests: a SQLite file per test, and the real PostgreSQL.

PostgreSQL is shared with other developers' runs, so this session creates its own database
(`jb_<random>`, migrated once) and drops it at the end; each test starts from empty tables.
Set JAMSOSBOT_TEST_PG to point at another server (default: root@127.0.0.1:5432, database `test`).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.crypto import Vault
from storage.db import Database, make_engine
from storage.models import Base
from storage.schema import upgrade
from tests.realdeps import postgres_database

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session, at the current schema."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def vault() -> Vault:
    return Vault([secrets.token_bytes(32)])


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path, vault: Vault) -> Iterator[Database]:
    path = tmp_path / "jamsosbot.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(make_engine(f"sqlite:///{path}"), vault)
    yield db
    db.dispose()


@pytest.fixture
def pg_db(pg_url: str, vault: Vault) -> Iterator[Database]:
    db = Database(make_engine(pg_url, pool_size=5), vault)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_db(request: pytest.FixtureRequest) -> Database:
    """The same test on a SQLite file and on the real PostgreSQL."""
    fixture = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]
