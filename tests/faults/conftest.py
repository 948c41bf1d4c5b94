"""Fixtures for the fault tests: a PostgreSQL database of this session's own (reached directly, or through a
proxy a test can cut), Redis through a proxy with a key prefix of the test's own, the local platform APIs,
and the guards against the real Telegram and Twilio.

The shared PostgreSQL and Redis keep serving other developers' runs: nothing here stops, restarts or
reconfigures them. A test cuts its own TcpProxy instead (tests/faults/proxy.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from storage.crypto import generate_key
from tests.channels.conftest import no_real_telegram, redis_prefix, redis_url  # noqa: F401 (fixtures)
from tests.channels.whatsapp_support import forbid_real_twilio
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.faults.proxy import TcpProxy
from tests.realdeps import postgres_database

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def no_real_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts = forbid_real_twilio(monkeypatch)
    yield
    assert not attempts, f"the real Twilio API was called: {attempts}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, at the current schema; dropped at the end."""
    with postgres_database("jb_faults") as url:
        yield url


@pytest.fixture
def pg_proxy(pg_url: str) -> Iterator[TcpProxy]:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def pg_via_proxy(pg_url: str, pg_proxy: TcpProxy) -> str:
    """The session's database, reached through `pg_proxy`."""
    return make_url(pg_url).set(host="127.0.0.1", port=pg_proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:  # noqa: F811 (the imported fixture)
    url = make_url(redis_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 6379) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def data_key() -> str:
    return generate_key()


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api
