"""What the console and the admin API share at run time: the runtime (database, clock), the console's
session store, the login limiter, the broadcast service, the templates and the cookie policy.

`AdminContext` is made by `bot.admin.mount`; the stores and the service are opened by the admin lifespan
(`lifespan_router`, run inside the app's own lifespan, after the runtime is built) and closed with it.
Console sessions and login counters live under REDIS_PREFIX (Redis when REDIS_URL is set, so every web
worker shares them; in-process otherwise).

The admin API is a mounted sub-application (so its OpenAPI description is its own), and a mounted app sees
itself as `request.app`; `sub.state.parent` points back at the main app, which owns all of this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request

from bot.admin.ratelimit import LoginLimiter
from storage.sessions import make_session_store
from storage.sessions_base import SessionStore

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

    from bot.broadcast.service import BroadcastService
    from bot.runtime import Runtime


@dataclass
class AdminContext:
    templates: Jinja2Templates
    secure_cookies: bool  # PUBLIC_URL is https: cookies only ever travel encrypted
    sessions: SessionStore | None = None  # set by the lifespan
    limiter: LoginLimiter | None = None
    broadcast: BroadcastService | None = None


def main_app(request: Request) -> Any:
    app = request.app
    return getattr(app.state, "parent", None) or app


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = main_app(request).state.runtime
    return runtime


def admin_of(request: Request) -> AdminContext:
    ctx: AdminContext = main_app(request).state.admin
    return ctx


def sessions_of(request: Request) -> SessionStore:
    store = admin_of(request).sessions
    assert store is not None, "the admin lifespan has not run"
    return store


def limiter_of(request: Request) -> LoginLimiter:
    limiter = admin_of(request).limiter
    assert limiter is not None, "the admin lifespan has not run"
    return limiter


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from bot.broadcast.service import BroadcastService

    runtime = app.state.runtime  # built by the app's own lifespan, which runs around this one
    settings = runtime.settings
    ctx: AdminContext = app.state.admin
    ctx.sessions = make_session_store(settings, prefix=f"{settings.redis_prefix}admin:")
    ctx.limiter = LoginLimiter.build(settings.redis_url, key_prefix=f"{settings.redis_prefix}admin-login")
    ctx.broadcast = await BroadcastService.open(
        settings,
        runtime.db,
        # the senders the inbox lifespan built (test sends reuse them); the service builds its own if absent
        outbound=getattr(app.state, "outbound", None),
        clock=runtime.clock,
    )
    try:
        yield
    finally:
        await ctx.broadcast.aclose()
        ctx.limiter.close()
        close = getattr(ctx.sessions, "close", None)
        if close is not None:
            close()


lifespan_router = APIRouter(lifespan=_lifespan)
