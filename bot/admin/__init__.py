"""The staff console (server-rendered pages under /admin) and the admin HTTP API (/admin/api/v1, with its
own OpenAPI description at /admin/api/v1/openapi.json).

`mount(app, settings)` is the only entry point: bot.app.create_app calls it. Authentication and roles live
in bot.admin.auth and bot.admin.roles; every state-changing action is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from bot.settings import Settings

STATIC = Path(__file__).with_name("static")


def page_routers() -> list[APIRouter]:
    """The console's page routers (the authorization tests walk every route of these)."""
    from bot.admin import pages_auth, pages_campaigns, pages_main, pages_staff

    return [pages_auth.router, pages_main.router, pages_campaigns.router, pages_staff.router]


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the console pages, their static files, the API sub-application and the security headers."""
    from bot.admin import api
    from bot.admin.auth import Forbidden, LoginRequired, session_user
    from bot.admin.context import AdminContext, lifespan_router
    from bot.admin.headers import AdminHeaders
    from bot.admin.templating import make_templates
    from bot.admin.views import render

    app.state.admin = AdminContext(
        templates=make_templates(),
        secure_cookies=(settings.public_url or "").lower().startswith("https://"),
    )
    # lifespan only: the console's session store, the login limiter and the broadcast service
    app.include_router(lifespan_router)
    for router in page_routers():
        app.include_router(router, include_in_schema=False)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")
    sub = api.build_api()
    sub.state.parent = app
    app.mount(api.PREFIX, sub)
    app.add_middleware(AdminHeaders)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(exc.next_path, status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        return render(
            request,
            "error.html",
            session_user(request),  # signed in, just not allowed: keep the menu
            status_code=403,
            heading="Tidak bisa dilakukan",
            message=exc.message,
        )

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Forbidden, forbidden)
