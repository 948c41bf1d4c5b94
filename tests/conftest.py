"""Shared fixtures. Real PostgreSQL and Redis are used where a test needs them (see tests/realdeps.py)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the bot side of tests/golden/*.yml after a reviewed change.",
    )
