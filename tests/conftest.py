"""Shared fixtures. Real PostgreSQL and Redis are used where a test needs them (see tests/realdeps.py)."""

from __future__ import annotations

import contextlib
import warnings

import pytest

# Hypothesis imports its patch writer (libcst) while reporting a failure; the machine's libcst warns at import
# under warnings-as-errors, which turned a failing property test into a pytest INTERNALERROR that stopped the
# whole run. Import it once here, quietly, so a failure is reported like any other.
with warnings.catch_warnings(), contextlib.suppress(ImportError):  # no libcst: nothing to pre-import
    warnings.simplefilter("ignore")
    import hypothesis.extra._patching  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the bot side of tests/golden/*.yml after a reviewed change.",
    )
