"""The admin HTTP API: everything the console does, for scripts. Mounted at /admin/api/v1 as its own
FastAPI application, so /admin/api/v1/openapi.json describes exactly this API (with its bearer auth) and
nothing else. No interactive docs page is served (it would load scripts from a CDN).

Auth: `Authorization: Bearer <token>` (tokens from `jamsosbot staff token USER` or the console's account
page) or the console session cookie plus `X-CSRF-Token` on state-changing requests. 401 without either,
403 when the role lacks the permission (bot.admin.roles).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from bot.admin import api_campaigns, api_staff, stats
from bot.admin.auth import api_auth
from bot.admin.campaign_views import running_count
from bot.admin.context import runtime_of
from bot.admin.pages_main import period_start
from bot.admin.roles import GRANTS, StaffUser
from bot.admin.schemas import Dashboard, FunnelStepOut, Me, SubscriberCounts, UnrecognisedOut
from bot.admin.staff import StaffError

PREFIX = "/admin/api/v1"

# Declared for the OpenAPI description only (auto_error off): bot.admin.auth does the actual checking,
# because the console's cookie is accepted too.
bearer = HTTPBearer(auto_error=False, description="A staff API token: `jamsosbot staff token USER`.")

router = APIRouter()
Viewer = Annotated[StaffUser, Depends(api_auth())]


@router.get("/me", response_model=Me, tags=["account"])
def me(user: Viewer) -> Me:
    """Who the token (or session) belongs to, and what it may do."""
    return Me(
        id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        permissions=sorted(p.value for p in GRANTS[user.role]),
        via=user.via,  # type: ignore[arg-type]
    )


@router.get("/dashboard", response_model=Dashboard, tags=["reports"])
def dashboard(request: Request, user: Viewer) -> Dashboard:
    runtime = runtime_of(request)
    counts = stats.subscriber_counts(runtime.db)
    steps = stats.funnel(runtime.db, since=runtime.clock() - timedelta(days=30))
    return Dashboard(
        subscribers={k: SubscriberCounts(**v) for k, v in counts.items()},
        funnel_30_days=[FunnelStepOut(key=s.key, label=s.label, count=s.count) for s in steps],  # type: ignore[arg-type]
        campaigns_running=running_count(request),
    )


@router.get("/funnel", response_model=list[FunnelStepOut], tags=["reports"])
def funnel(
    request: Request, user: Viewer, period: Annotated[str, Query(pattern="^(7|30|90|semua)$")] = "30"
) -> list[FunnelStepOut]:
    """Registrations started → consented → submitted → paid, for drafts active in the period (days)."""
    runtime = runtime_of(request)
    steps = stats.funnel(runtime.db, since=period_start(runtime.clock(), period))
    return [FunnelStepOut(key=s.key, label=s.label, count=s.count) for s in steps]  # type: ignore[arg-type]


@router.get("/unrecognised", response_model=list[UnrecognisedOut], tags=["reports"])
def unrecognised(
    request: Request,
    user: Viewer,
    period: Annotated[str, Query(pattern="^(7|30|90|semua)$")] = "30",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[UnrecognisedOut]:
    """Messages the NLU could not place, masked, most frequent first (for improving the training data)."""
    runtime = runtime_of(request)
    rows = stats.unrecognised(runtime.db, since=period_start(runtime.clock(), period), limit=limit)
    return [UnrecognisedOut(text=r.text, count=r.count, last_seen=r.last_seen, reason=r.reason) for r in rows]


def api_routers() -> list[APIRouter]:
    """The API's routers (the authorization tests walk every route of these)."""
    return [router, api_campaigns.router, api_staff.router]


def build_api() -> FastAPI:
    api = FastAPI(
        title="jamsosbot admin API",
        version="1",
        description=__doc__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the same auth as the rest
        dependencies=[Depends(bearer)],
    )

    @api.get("/openapi.json", include_in_schema=False)
    def openapi(user: Viewer) -> JSONResponse:
        return JSONResponse(api.openapi())

    @api.exception_handler(StaffError)
    async def staff_error(request: Request, exc: StaffError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)})

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # like the main app: name the problem without echoing the input (it may hold a password)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    for part in api_routers():
        api.include_router(part)
    return api
