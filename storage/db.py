"""The database handle: an engine and a session factory from a URL, plus the key vault the data-access
functions need to seal and open personal data.

SQLite (the embedded default) gets WAL (readers never block the writer), foreign keys (off by default in
SQLite) and a busy timeout (several threads and processes share one file). PostgreSQL gets a bounded
pool whose connections are pinged before use after an idle second. Nothing here is global: build one
`Database` at start-up and pass it down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Insert, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from storage.crypto import Vault, vault_from_settings

if TYPE_CHECKING:
    from bot.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "jamsosbot_read_only"  # execution option of Database.reader connections


def normalize_url(url: str) -> str:
    """Accept the URL spellings operators paste (postgres://, postgresql://) and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commit
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN: a transaction that reads and then writes cannot then fail
    # halfway with "database is locked" (SQLite does not wait on a lock upgrade), it waits at BEGIN instead.
    # Readers (Database.reader) begin deferred, so look-ups never queue behind a writer (WAL).
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def insert_ignoring_duplicates(dialect: str, model: Any, index_elements: list[str] | None = None) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for PostgreSQL and SQLite (the two engines the project runs on), on
    any unique constraint or on the one `index_elements` names."""
    if dialect == "postgresql":
        return pg_insert(model).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        return sqlite_insert(model).on_conflict_do_nothing(index_elements=index_elements)
    raise NotImplementedError(f"needs PostgreSQL or SQLite, not {dialect}")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for `url`. SQLite files (and their folder) are created on first use."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE above is the only BEGIN
        event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine))
    return engine


# A pooled connection idle longer than this is pinged before use (a server restart or a dropped link is
# then found before a query fails). SQLAlchemy's pool_pre_ping pings on *every* checkout, which costs a
# round trip per transaction; a connection in steady use proves itself alive, and when one does fail
# mid-query the pool discards every connection older than the failure.
PING_AFTER_IDLE_SECONDS = 1.0


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs: one round trip, no transaction
    except Exception as exc:
        # The pool discards this connection and checks out another (a fresh one if need be).
        raise DisconnectionError("a pooled connection did not answer a ping") from exc


@dataclass
class Database:
    """The engine, its session factory and the vault. Data-access functions take this."""

    engine: Engine
    vault: Vault

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on normal exit, rolled back on an exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A Core connection for read-only queries (on SQLite it does not take the write lock)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A Core connection whose statements each commit on their own on PostgreSQL (one round trip, no
        BEGIN and COMMIT of their own); on SQLite one transaction, committed on exit."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
            return
        with self.engine.begin() as conn:
            yield conn

    def session(self) -> Session:
        """A plain session for callers that manage their own transactions."""
        return self._sessions()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(
    settings: Settings, *, vault: Vault | None = None, check_schema: bool = True, pool_size: int = 10
) -> Database:
    """The database of `settings`, ready for use.

    With `check_schema`, an embedded SQLite database that has no tables yet is created at the current
    schema (first run), and any other database behind the code raises `storage.schema.SchemaOutdated`,
    whose message names `jamsosbot db upgrade`."""
    from storage.schema import ensure_current

    engine = make_engine(settings.database_url, pool_size=pool_size)
    if check_schema:
        ensure_current(engine, create_if_empty=is_sqlite(settings.database_url))
    return Database(engine, vault or vault_from_settings(settings))
