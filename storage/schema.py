"""Is the database at the schema this code expects? And the Alembic calls behind `jamsosbot db upgrade`.

The app never runs on a schema behind the code (a missing column would fail mid-conversation); it refuses
to start with a message that names the command to run. The one exception is a brand-new embedded SQLite
file with no tables at all, which is created at the current schema so `jamsosbot chat` works on a fresh
clone with no set-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).with_name("migrations")
UPGRADE_COMMAND = "jamsosbot db upgrade"


class SchemaOutdated(RuntimeError):
    """The database schema is not the one this code expects."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config that works from an installed package as well as from the repository.

    With `url` None, migrations/env.py reads DATABASE_URL through the settings (alembic.ini does the same)."""
    from storage.db import normalize_url

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # ConfigParser treats % as interpolation; a password may contain one
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; merge them")
    return heads[0]


@contextmanager
def _quiet() -> Iterator[None]:
    # reading the revision makes Alembic log its context at INFO on every start; only upgrades should talk
    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn, _quiet():
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade through an existing engine (keeps its connection settings, e.g. SQLite pragmas)."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def ensure_current(engine: Engine, *, create_if_empty: bool = False) -> None:
    """Return when the schema is at head; create it when empty and allowed; otherwise raise SchemaOutdated."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and create_if_empty and not inspect(engine).get_table_names():
        upgrade_engine(engine)
        return
    where = "has no jamsosbot schema" if current is None else f"is at schema {current}"
    raise SchemaOutdated(
        f"The database {where}, but this version of jamsosbot needs {head}. "
        f"Run `{UPGRADE_COMMAND}` (with the same DATABASE_URL), then start again."
    )
