"""Console pages that only read: the dashboard, the registrations funnel and the unrecognised messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin import stats
from bot.admin.auth import PageAuth, page_auth
from bot.admin.campaign_views import recent_campaigns
from bot.admin.context import runtime_of
from bot.admin.views import render

router = APIRouter()

PERIODS = {"7": "7 hari", "30": "30 hari", "90": "90 hari", "semua": "Semua waktu"}


def period_start(now: datetime, period: str) -> datetime | None:
    """The start of a period named by PERIODS (None for all time)."""
    if period not in PERIODS or period == "semua":
        return None
    return now - timedelta(days=int(period))


@router.get("/admin", response_class=HTMLResponse)
def dashboard(request: Request, auth: Annotated[PageAuth, Depends(page_auth())]) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock()
    subscribers = stats.subscriber_counts(runtime.db)
    return render(
        request,
        "dashboard.html",
        auth,
        subscribers=subscribers,
        total_opted_in=sum(c["opted_in"] for c in subscribers.values()),
        funnel=stats.funnel(runtime.db, since=now - timedelta(days=30)),
        unrecognised=stats.unrecognised(runtime.db, since=now - timedelta(days=30), limit=5),
        campaigns=recent_campaigns(request, limit=5),
    )


@router.get("/admin/funnel", response_class=HTMLResponse)
def funnel(
    request: Request,
    auth: Annotated[PageAuth, Depends(page_auth())],
    periode: Annotated[str, Query(max_length=10)] = "30",
) -> Response:
    runtime = runtime_of(request)
    period = periode if periode in PERIODS else "30"
    steps = stats.funnel(runtime.db, since=period_start(runtime.clock(), period))
    return render(request, "funnel.html", auth, steps=steps, period=period, periods=PERIODS)


@router.get("/admin/unrecognised", response_class=HTMLResponse)
def unrecognised(
    request: Request,
    auth: Annotated[PageAuth, Depends(page_auth())],
    periode: Annotated[str, Query(max_length=10)] = "30",
) -> Response:
    runtime = runtime_of(request)
    period = periode if periode in PERIODS else "30"
    rows = stats.unrecognised(runtime.db, since=period_start(runtime.clock(), period), limit=200)
    return render(request, "unrecognised.html", auth, rows=rows, period=period, periods=PERIODS)
