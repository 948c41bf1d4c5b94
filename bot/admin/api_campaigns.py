"""Admin API: campaigns, through the broadcast service (which audits every change).

Reading (list, get, preview, audience count, progress, results, quiet hours) needs `view`; composing,
test sends and the lifecycle (schedule, start, pause, resume, cancel) need `send`. Errors: 404 unknown
campaign, 409 wrong status for the action or channel not configured, 422 invalid campaign (with
`problems`), 502 the channel refused a test send.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from bot.admin import campaign_views
from bot.admin.auth import api_auth
from bot.admin.broadcasting import http_error, quiet_hours, service_of
from bot.admin.campaign_schemas import (
    AudienceCountOut,
    AudienceIn,
    CampaignIn,
    CampaignOut,
    Preview,
    ProgressOut,
    QuietHoursOut,
    ResultsOut,
    ScheduleIn,
    TestSendIn,
    TestSendOut,
)
from bot.admin.context import runtime_of
from bot.admin.roles import Permission, StaffUser
from bot.broadcast.model import BroadcastError
from bot.outbound import SendError

router = APIRouter(tags=["campaigns"])
Viewer = Annotated[StaffUser, Depends(api_auth())]
Sender = Annotated[StaffUser, Depends(api_auth(Permission.SEND))]
CampaignId = Annotated[int, Path(ge=1)]


@router.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(
    request: Request,
    user: Viewer,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CampaignOut]:
    """Newest first."""
    service = service_of(request)
    rows = campaign_views.list_campaigns(runtime_of(request).db, limit=limit, status=status_)
    return [CampaignOut.of(await service.get(r.id)) for r in rows]


@router.post("/campaigns", response_model=CampaignOut, status_code=status.HTTP_201_CREATED)
async def create_campaign(request: Request, user: Sender, body: CampaignIn) -> CampaignOut:
    """A new draft (nothing is sent until it is started or scheduled)."""
    try:
        info = await service_of(request).create(body.draft(), actor=user.username, created_by=user.id)
    except (BroadcastError, ValueError) as exc:
        raise http_error(exc) from exc
    return CampaignOut.of(info)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(request: Request, user: Viewer, campaign_id: CampaignId) -> CampaignOut:
    try:
        return CampaignOut.of(await service_of(request).get(campaign_id))
    except BroadcastError as exc:
        raise http_error(exc) from exc


@router.put("/campaigns/{campaign_id}", response_model=CampaignOut)
async def update_campaign(
    request: Request, user: Sender, campaign_id: CampaignId, body: CampaignIn
) -> CampaignOut:
    """Replace a draft's or a scheduled campaign's content and audience."""
    try:
        return CampaignOut.of(
            await service_of(request).update(campaign_id, body.draft(), actor=user.username)
        )
    except (BroadcastError, ValueError) as exc:
        raise http_error(exc) from exc


@router.post("/preview", response_model=Preview)
async def preview_draft(request: Request, user: Viewer, body: CampaignIn) -> Preview:
    """How a composed message will look on each channel of its audience, before saving it:
    {"telegram": {"text": …}, "whatsapp": {"text": …, "template" or "none": …}}."""
    return await service_of(request).preview(body.draft())


@router.get("/campaigns/{campaign_id}/preview", response_model=Preview)
async def preview_campaign(
    request: Request,
    user: Viewer,
    campaign_id: CampaignId,
    name: Annotated[str | None, Query(max_length=60, description="A name for {nama}.")] = None,
) -> Preview:
    try:
        return await service_of(request).preview(campaign_id, name=name)
    except BroadcastError as exc:
        raise http_error(exc) from exc


@router.post("/audience/count", response_model=AudienceCountOut)
async def count_audience(request: Request, user: Viewer, body: AudienceIn) -> AudienceCountOut:
    """How many opted-in, reachable subscribers match the filters right now."""
    counted = await service_of(request).count_audience(body.audience())
    return AudienceCountOut(count=counted.total, by_channel=counted.by_channel)


@router.post("/campaigns/{campaign_id}/test-send", response_model=TestSendOut)
async def test_send(request: Request, user: Sender, campaign_id: CampaignId, body: TestSendIn) -> TestSendOut:
    """Send the message now to one chat (your own), outside the campaign's counts."""
    try:
        message_id = await service_of(request).test_send(
            campaign_id, channel=body.channel, chat_id=body.chat_id, name=body.name, actor=user.username
        )
    except (BroadcastError, SendError) as exc:
        raise http_error(exc) from exc
    return TestSendOut(message_id=message_id)


@router.post("/campaigns/{campaign_id}/schedule", response_model=CampaignOut)
async def schedule(request: Request, user: Sender, campaign_id: CampaignId, body: ScheduleIn) -> CampaignOut:
    try:
        return CampaignOut.of(await service_of(request).schedule(campaign_id, body.at, actor=user.username))
    except (BroadcastError, ValueError) as exc:
        raise http_error(exc) from exc


async def _lifecycle(request: Request, user: StaffUser, campaign_id: int, action: str) -> CampaignOut:
    try:
        info = await getattr(service_of(request), action)(campaign_id, actor=user.username)
    except BroadcastError as exc:
        raise http_error(exc) from exc
    return CampaignOut.of(info)


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignOut)
async def start(request: Request, user: Sender, campaign_id: CampaignId) -> CampaignOut:
    """Send now (a draft or a scheduled campaign). Quiet hours still hold sending back."""
    return await _lifecycle(request, user, campaign_id, "start")


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
async def pause(request: Request, user: Sender, campaign_id: CampaignId) -> CampaignOut:
    return await _lifecycle(request, user, campaign_id, "pause")


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignOut)
async def resume(request: Request, user: Sender, campaign_id: CampaignId) -> CampaignOut:
    return await _lifecycle(request, user, campaign_id, "resume")


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel(request: Request, user: Sender, campaign_id: CampaignId) -> CampaignOut:
    """Nothing more is sent; deliveries not yet sent are recorded as skipped."""
    return await _lifecycle(request, user, campaign_id, "cancel")


@router.get("/campaigns/{campaign_id}/progress", response_model=ProgressOut)
async def progress(request: Request, user: Viewer, campaign_id: CampaignId) -> ProgressOut:
    """Cheap enough to poll every second or two (the console's progress bar does)."""
    try:
        return ProgressOut.of(await service_of(request).progress(campaign_id))
    except BroadcastError as exc:
        raise http_error(exc) from exc


@router.get("/campaigns/{campaign_id}/results", response_model=ResultsOut)
async def results(request: Request, user: Viewer, campaign_id: CampaignId) -> ResultsOut:
    """Sent, delivered, failed by reason, opted out after it, registrations started and completed after it."""
    try:
        return ResultsOut.of(await service_of(request).results(campaign_id))
    except BroadcastError as exc:
        raise http_error(exc) from exc


@router.get("/quiet-hours", response_model=QuietHoursOut)
def quiet(request: Request, user: Viewer) -> QuietHoursOut:
    """No campaign message is sent in these hours (local time); sending resumes by itself after them."""
    hours = quiet_hours(request)
    return QuietHoursOut(
        enabled=hours.enabled,
        start=f"{hours.start:%H:%M}",
        end=f"{hours.end:%H:%M}",
        timezone=str(hours.zone),
        quiet_now=hours.is_quiet(runtime_of(request).clock()),
    )
