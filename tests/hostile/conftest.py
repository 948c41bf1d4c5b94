"""One running app for the whole tests/hostile package (building it and loading the NLU model is the slow
part); each test talks from chats of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from storage.repo import staff as repo_staff
from tests.hostile.app_support import LiveApp, live_app


@pytest.fixture(scope="package", autouse=True)
def light_argon2() -> Iterator[None]:
    """Still argon2id, with light parameters (as tests/admin does): the generated admin API requests create
    staff accounts, and the default parameters cost ~0.7 s a hash on the shared machine."""
    original = repo_staff._hasher
    repo_staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    repo_staff._hasher = original


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("hostile")) as app:
        yield app
