"""GET /health: 200 with the state of each dependency, so an operator sees what is degraded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

log = logging.getLogger(__name__)
router = APIRouter()


def _check(probe: Callable[[], bool]) -> str:
    try:
        return "ok" if probe() else "down"
    except Exception as exc:  # a health probe reports, it never raises
        log.warning("health probe failed: %s", type(exc).__name__)
        return "down"


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    checks = {name: _check(probe) for name, probe in runtime.health_probes().items()}
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return {"status": status, "checks": checks}
