"""The ASGI app served by `jamsosbot serve`. The lifespan owns the runtime (pools, clients, the model), so
web workers stay stateless: everything shared lives in PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot import admin, health, inbox_service, nlu_api
from bot.channels import rest, telegram, whatsapp
from bot.logs import install_redaction
from bot.runtime import Runtime
from bot.settings import Settings


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    install_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, clock=clock)
        app.state.runtime = runtime
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(title="jamsosbot", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Malformed payloads get a 4xx that names the problem, without echoing the input back.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.include_router(rest.router)
    app.include_router(nlu_api.router)
    app.include_router(health.router)
    app.include_router(whatsapp.router)
    app.include_router(telegram.router)
    app.include_router(inbox_service.router)  # lifespan only: the inbox, the senders, the inbox workers
    admin.mount(app, settings)  # the staff console (/admin) and the admin API (/admin/api/v1)
    return app
