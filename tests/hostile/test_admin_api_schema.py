"""Schemathesis against the admin API's own OpenAPI description (/admin/api/v1/openapi.json), with a valid
admin token: requests generated from every operation's schema, valid and not, never get a 5xx.

Each generated request carries a fresh token of the `admin` account (issuing one retires the previous), so
an operation that rotates or revokes tokens (`POST /me/token`, `DELETE /staff/{username}/token`) cannot
starve the operations after it; it can only ever touch the accounts the generator names.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.hostile.app_support import LiveApp
from tests.hostile.strategies import HOSTILE

OPENAPI = "/admin/api/v1/openapi.json"


def without_lifespan(app: Any) -> Any:
    """The running app, minus its lifespan: schemathesis' ASGI client would start and stop it around every
    call, building a second runtime and stopping the inbox workers the other tests rely on."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return asgi


@pytest.fixture(scope="module")
def admin_api(live: LiveApp) -> Any:
    token = live.token("admin")
    # the description needs the token too; the ASGI client's kwargs go with that request
    return schemathesis.openapi.from_asgi(
        OPENAPI, without_lifespan(live.app), headers={"Authorization": f"Bearer {token}"}
    )


schema = schemathesis.pytest.from_fixture("admin_api")


@schema.parametrize()
@settings(
    HOSTILE,
    max_examples=max(4, HOSTILE.max_examples // 12),
    suppress_health_check=[*HealthCheck],
)
def test_no_generated_request_gets_a_5xx(case: Any, live: LiveApp) -> None:
    headers = {"Authorization": f"Bearer {live.token('admin')}"}
    response = case.call(headers=headers)
    where = f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, where
    assert response.status_code not in (401, 403), where  # the admin token reached the operation
    assert live.failures() == []
