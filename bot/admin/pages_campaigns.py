"""Console pages for campaigns: the list, compose (with live previews and the audience builder with its
count), and the campaign page (previews, audience count, test send to one's own chat, schedule with the
quiet hours shown, start/pause/resume/cancel, a live progress bar, and the results with charts).

Every change goes through the broadcast service, which audits it; viewers see these pages but every
state-changing form needs the `send` permission (broadcaster or admin) and the session's CSRF token.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.admin import campaign_views, forms
from bot.admin.auth import PageAuth, page_auth
from bot.admin.broadcasting import error_label, quiet_hours, quiet_label, service_of
from bot.admin.campaign_schemas import Preview
from bot.admin.context import runtime_of
from bot.admin.roles import Permission
from bot.admin.views import redirect, render
from bot.broadcast.model import Audience, BroadcastError, CampaignDraft, CampaignInfo
from bot.clock import WIB
from bot.outbound import SendError

log = logging.getLogger(__name__)
router = APIRouter()
Viewer = Annotated[PageAuth, Depends(page_auth())]
Sender = Annotated[PageAuth, Depends(page_auth(Permission.SEND))]
CampaignId = Annotated[int, Path(ge=1)]
LIVE = ("running", "paused", "finished", "cancelled")  # statuses with deliveries to show


def _compose_context(request: Request, form: forms.ComposeForm) -> dict[str, Any]:
    return {
        "known": campaign_views.known_values(runtime_of(request).db),
        "form": form,
        "channel_labels": forms.CHANNEL_LABELS,
        "registration_labels": forms.REGISTRATION_LABELS,
        "occupations": forms.occupation_choices(),
        "variables": forms.TEMPLATE_VARIABLES,
    }


async def _compose_page(
    request: Request,
    auth: PageAuth,
    form: forms.ComposeForm,
    *,
    campaign: CampaignInfo | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    service = service_of(request)
    draft = form.draft()
    count = await service.count_audience(draft.audience)
    previews = await _previews(request, draft)
    return render(
        request,
        "compose.html",
        auth,
        status_code=status_code,
        campaign=campaign,
        count=count,
        previews=previews,
        quiet=quiet_label(quiet_hours(request)),
        error=error,
        **_compose_context(request, form),
    )


@router.get("/admin/campaigns", response_class=HTMLResponse)
def campaign_list(
    request: Request, auth: Viewer, status: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    status = status if status in campaign_views.STATUS_LABELS else ""
    rows = campaign_views.list_campaigns(runtime_of(request).db, limit=200, status=status or None)
    return render(
        request,
        "campaigns.html",
        auth,
        campaigns=rows,
        status=status,
        status_labels=campaign_views.STATUS_LABELS,
        summaries={r.id: forms.audience_summary(Audience.from_json(r.audience)) for r in rows},
    )


@router.get("/admin/campaigns/new", response_class=HTMLResponse)
async def compose_new(request: Request, auth: Sender) -> Response:
    return await _compose_page(request, auth, forms.ComposeForm())


@router.post("/admin/campaigns")
async def create(request: Request, auth: Sender) -> Response:
    form = forms.ComposeForm.parse(await request.form())
    try:
        info = await service_of(request).create(
            form.draft(), actor=auth.user.username, created_by=auth.user.id
        )
    except (BroadcastError, ValueError) as exc:
        return await _compose_page(request, auth, form, error=error_label(exc), status_code=400)
    return redirect(f"/admin/campaigns/{info.id}", notice="kampanye_dibuat")


@router.post("/admin/campaigns/preview", response_class=HTMLResponse)
async def preview_fragment(request: Request, auth: Viewer) -> Response:
    """The previews of the compose form as it is now (an HTML fragment the page swaps in as you type)."""
    form = forms.ComposeForm.parse(await request.form())
    previews = await _previews(request, form.draft())
    return render(request, "previews.html", auth, previews=previews)


async def _previews(request: Request, draft: CampaignDraft) -> Preview:
    """The service's previews; none for an empty text (there is nothing to show yet)."""
    if not draft.text.strip():
        return {}
    return await service_of(request).preview(draft)


@router.get("/admin/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, auth: Viewer, campaign_id: CampaignId) -> Response:
    return await _campaign_page(request, auth, campaign_id)


async def _campaign_page(
    request: Request, auth: PageAuth, campaign_id: int, *, error: str | None = None, status_code: int = 200
) -> Response:
    service = service_of(request)
    try:
        info = await service.get(campaign_id)
    except BroadcastError as exc:
        return render(
            request, "error.html", auth, status_code=404, heading="Tidak ditemukan", message=error_label(exc)
        )
    progress = await service.progress(campaign_id)
    results = await service.results(campaign_id) if info.status in LIVE else None
    now = runtime_of(request).clock()
    return render(
        request,
        "campaign.html",
        auth,
        status_code=status_code,
        error=error,
        info=info,
        status_label=campaign_views.STATUS_LABELS.get(info.status, info.status),
        creator=campaign_views.staff_name(runtime_of(request).db, info.created_by),
        audience=forms.audience_summary(info.draft.audience),
        count=await service.count_audience(info.draft.audience),
        previews=await service.preview(info.draft),
        progress=progress,
        results=results,
        quiet=quiet_label(quiet_hours(request)),
        quiet_now=quiet_hours(request).is_quiet(now),
        schedule_default=info.scheduled_at or now,
        reason_label=campaign_views.reason_label,
        channel_labels=forms.CHANNEL_LABELS,
    )


@router.get("/admin/campaigns/{campaign_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    try:
        info = await service_of(request).get(campaign_id)
    except BroadcastError as exc:
        return render(
            request, "error.html", auth, status_code=404, heading="Tidak ditemukan", message=error_label(exc)
        )
    return await _compose_page(request, auth, forms.ComposeForm.of(info.draft), campaign=info)


@router.post("/admin/campaigns/{campaign_id}/edit")
async def update(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    form = forms.ComposeForm.parse(await request.form())
    service = service_of(request)
    try:
        await service.update(campaign_id, form.draft(), actor=auth.user.username)
    except (BroadcastError, ValueError) as exc:
        info = None
        with contextlib.suppress(BroadcastError):  # the form is shown again even if it vanished meanwhile
            info = await service.get(campaign_id)
        return await _compose_page(
            request, auth, form, campaign=info, error=error_label(exc), status_code=400
        )
    return redirect(f"/admin/campaigns/{campaign_id}", notice="tersimpan")


@router.post("/admin/campaigns/{campaign_id}/test")
async def test_send(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    data = await request.form()
    channel = str(data.get("channel") or "").strip()
    chat_id = str(data.get("chat_id") or "").strip()[:64]
    name = str(data.get("name") or "").strip()[:60] or None
    if channel not in ("telegram", "whatsapp") or not chat_id:
        return await _campaign_page(
            request,
            auth,
            campaign_id,
            status_code=400,
            error="Pilih saluran dan isi ID chat atau nomor Anda.",
        )
    try:
        await service_of(request).test_send(
            campaign_id, channel=channel, chat_id=chat_id, name=name, actor=auth.user.username
        )
    except (BroadcastError, SendError) as exc:
        log.info("test send of campaign %s failed: %s", campaign_id, type(exc).__name__)
        return await _campaign_page(request, auth, campaign_id, status_code=400, error=error_label(exc))
    return redirect(f"/admin/campaigns/{campaign_id}", notice="tes_terkirim")


@router.post("/admin/campaigns/{campaign_id}/schedule")
async def schedule(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    data = await request.form()
    try:
        at = datetime.fromisoformat(str(data.get("at") or "")).replace(tzinfo=WIB)  # the form's time is WIB
    except ValueError:
        return await _campaign_page(
            request, auth, campaign_id, status_code=400, error="Isi tanggal dan jam pengiriman."
        )
    if at <= runtime_of(request).clock():
        return await _campaign_page(
            request, auth, campaign_id, status_code=400, error="Waktu kirim harus di masa depan."
        )
    try:
        await service_of(request).schedule(campaign_id, at, actor=auth.user.username)
    except BroadcastError as exc:
        return await _campaign_page(request, auth, campaign_id, status_code=409, error=error_label(exc))
    return redirect(f"/admin/campaigns/{campaign_id}", notice="dijadwalkan")


async def _lifecycle(
    request: Request, auth: PageAuth, campaign_id: int, action: str, notice: str
) -> Response:
    method = getattr(service_of(request), action)
    try:
        await method(campaign_id, actor=auth.user.username)
    except BroadcastError as exc:
        return await _campaign_page(request, auth, campaign_id, status_code=409, error=error_label(exc))
    return redirect(f"/admin/campaigns/{campaign_id}", notice=notice)


@router.post("/admin/campaigns/{campaign_id}/start")
async def start(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    return await _lifecycle(request, auth, campaign_id, "start", "dimulai")


@router.post("/admin/campaigns/{campaign_id}/pause")
async def pause(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    return await _lifecycle(request, auth, campaign_id, "pause", "dijeda")


@router.post("/admin/campaigns/{campaign_id}/resume")
async def resume(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    return await _lifecycle(request, auth, campaign_id, "resume", "dilanjutkan")


@router.post("/admin/campaigns/{campaign_id}/cancel")
async def cancel(request: Request, auth: Sender, campaign_id: CampaignId) -> Response:
    return await _lifecycle(request, auth, campaign_id, "cancel", "dibatalkan")
