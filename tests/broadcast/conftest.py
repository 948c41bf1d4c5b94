"""Fixtures for the broadcast tests: the real PostgreSQL (a database of this session's own, dropped at the
end), the real Redis (a key prefix per test; only those keys are deleted), the local Telegram and Twilio
servers, and a broadcast worker's state built over them exactly as `jamsosbot worker` builds it."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bot.broadcast.config import BroadcastConfig, load_broadcast_config
from bot.broadcast.jobs import WorkerApp
from bot.broadcast.keys import Keys
from bot.broadcast.worker import build_app, build_ports
from bot.settings import Settings, load_settings
from storage.crypto import Vault, generate_key, parse_keys
from storage.db import Database, make_engine
from storage.models import Base
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER
from tests.realdeps import postgres_database

PG_ADMIN_URL = os.environ.get("JAMSOSBOT_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JAMSOSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def data_key() -> str:
    return generate_key()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url, pool_size=8)
    yield engine
    engine.dispose()


@pytest.fixture
def db(pg_engine: Engine, data_key: str) -> Database:
    """The session's database, emptied (DELETE: on tables this small, far quicker than TRUNCATE), with
    campaign ids starting at 1 again."""
    with pg_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(text("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), 1, false)"))
    return Database(pg_engine, Vault(parse_keys(data_key)))


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; every key under it (and arq's keys for its jobs) is deleted
    afterwards, and nothing else."""
    value = f"jbtest:{secrets.token_hex(5)}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    yield value
    for pattern in Keys(value).arq_patterns():
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


@pytest.fixture
async def arq_redis(prefix: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    yield pool
    await pool.aclose()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[BroadcastTelegramAPI]:
    with BroadcastTelegramAPI() as api:
        yield api


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[BroadcastTwilioAPI]:
    with BroadcastTwilioAPI() as api:
        yield api


@pytest.fixture
def telegram(telegram_server: BroadcastTelegramAPI) -> BroadcastTelegramAPI:
    """The local Bot API server, with nothing recorded or scripted yet."""
    telegram_server.reset()
    return telegram_server


@pytest.fixture
def twilio(twilio_server: BroadcastTwilioAPI) -> BroadcastTwilioAPI:
    """The local Twilio server, with nothing recorded or scripted yet."""
    twilio_server.reset()
    return twilio_server


def fake_settings(
    pg_url: str, data_key: str, prefix: str, telegram: BroadcastTelegramAPI, twilio: BroadcastTwilioAPI
) -> Settings:
    return load_settings(
        environment="test",
        database_url=pg_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        data_key=data_key,
        telegram_bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=BOT_NUMBER,
        twilio_api_url=twilio.base_url,
    )


@pytest.fixture
def settings(
    pg_url: str, data_key: str, prefix: str, telegram: BroadcastTelegramAPI, twilio: BroadcastTwilioAPI
) -> Settings:
    return fake_settings(pg_url, data_key, prefix, telegram, twilio)


FAST = {
    "quiet_start": "00:00",
    "quiet_end": "00:00",  # no quiet hours unless a test wants them
    "slice_seconds": 5.0,
    "claim_lease_seconds": 3.0,
    "lock_seconds": 2.0,
    "in_doubt_grace_seconds": 0.3,
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.2,
    "tend_seconds": 1,
    "poll_seconds": 0.1,
    "concurrency": 8,
}


@pytest.fixture
def config() -> BroadcastConfig:
    return load_broadcast_config(**FAST)


@pytest.fixture
async def app(
    settings: Settings, config: BroadcastConfig, arq_redis: ArqRedis, db: Database
) -> AsyncIterator[WorkerApp]:
    """A broadcast worker's shared state (engine, queue, planner) over the fakes, in this process."""
    ports, outbound = await build_ports(settings, config, db, lambda: datetime.now(UTC))
    built = await build_app(settings, config, arq_redis, db=db, ports=ports)
    yield built
    await outbound.aclose()


@pytest.fixture
async def service(
    settings: Settings, config: BroadcastConfig, arq_redis: ArqRedis, db: Database
) -> AsyncIterator[Any]:
    from bot.broadcast.service import BroadcastService

    svc = BroadcastService(settings, db, config=config, redis=arq_redis)
    yield svc
    await svc.aclose()
