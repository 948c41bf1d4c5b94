from __future__ import annotations

import pytest

from flows.engine import Engine
from tests.flows.fakes import Chat, FakeServices


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def engine(services: FakeServices) -> Engine:
    return Engine(services)


@pytest.fixture
def chat(engine: Engine) -> Chat:
    return Chat(engine)
