"""Alembic environment: the URL comes from the caller (storage.schema), or else from the settings
(DATABASE_URL, or the default SQLite file), so `alembic upgrade head` works from a fresh clone."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from storage.models import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().database_url


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    # migrations must not import model code (it changes; a migration must not): plain SQLAlchemy types
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
        **kwargs,  # type: ignore[arg-type]
    )


def run_offline() -> None:
    from storage.db import normalize_url

    _configure(url=normalize_url(_url()), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # storage.schema.upgrade_engine passes its own connection
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    from storage.db import make_engine

    engine = make_engine(_url(), pool_size=1)
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
