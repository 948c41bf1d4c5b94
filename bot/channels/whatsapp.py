"""WhatsApp through Twilio: the inbound webhook and the delivery status callback (contract §5).

    POST /webhooks/twilio/webhook   a user's message (Rasa's Twilio path)  → empty TwiML, at once
    POST /webhooks/twilio/status    a delivery status callback              → 204

The order is the security. `X-Twilio-Signature` must be present, then the form body is read (bounded) and
its signature checked with the SDK's RequestValidator against the exact URL Twilio called: PUBLIC_URL +
the path (+ query) when PUBLIC_URL is set, which is what Twilio sees behind a proxy or load balancer; else
the URL of the request itself. Only then is any field used. A bad or missing signature is 403 (as is any
request while WhatsApp is not configured: nothing can be verified without the Auth Token); a body that is
not a Twilio webhook is 4xx, never 500.

A verified message becomes an InboundMessage (bot/channels/whatsapp_parse.py) and goes to the durable
inbox, deduplicated by MessageSid; the inbox workers answer it through the WhatsApp sender
(bot/channels/whatsapp_sender.py) using the REST API. When the inbox cannot record a message, the TwiML
answer itself asks the user to send it again (Twilio does not retry inbound webhooks). After answering,
the user's 24-hour window is refreshed in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, RequestValidator
from twilio.request_validator import get_signature_algorithm as _algorithm
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.whatsapp_errors import unreachable_reason
from bot.channels.whatsapp_parse import (
    FORM_TYPE,
    MAX_FORM_BYTES,
    MalformedWebhook,
    StatusUpdate,
    inbound_from_form,
    read_form,
    status_from_form,
)
from bot.channels.whatsapp_sender import STATUS_PATH, WhatsAppSender, build_sender
from bot.channels.whatsapp_window import record_inbound_message
from bot.inbox_service import inbox_of, record_unreachable
from bot.settings import Settings
from bot.texts import text
from storage.db import Database
from storage.repo.whatsapp import record_status

__all__ = ["STATUS_PATH", "WEBHOOK_PATH", "WhatsAppSender", "build_sender", "router", "signed_url"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/twilio/webhook"
REFRESH_EVERY_SECONDS = 300.0  # well inside the window's 10-minute safety margin
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class WindowRefresher:
    """Refreshes users' 24-hour windows off the request path (a database write must not delay Twilio's
    200), in one thread of its own so a slow database never takes threads the turns need.

    A user is refreshed at most once per `every` seconds per process: the stored time is then at most that
    much older than the user's last message, so the window can only look like it closes early (and a
    template is sent, which is always allowed), never late. Tasks are kept so they are not garbage-collected
    mid-way, and awaited briefly at shutdown."""

    def __init__(self, *, every: float = REFRESH_EVERY_SECONDS, remember: int = 50_000) -> None:
        self.every = every
        self.remember = remember
        self._last: OrderedDict[str, float] = OrderedDict()  # phone -> monotonic time of its last refresh
        self._tasks: set[asyncio.Future[None]] = set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wa-window")

    def refresh(self, db: Database, phone: str, at: datetime) -> bool:
        """Schedule the refresh; False when this user was refreshed moments ago (nothing scheduled)."""
        now = time.monotonic()
        last = self._last.get(phone)
        if last is not None and now - last < self.every:
            return False
        self._last[phone] = now
        self._last.move_to_end(phone)
        while len(self._last) > self.remember:
            self._last.popitem(last=False)
        task = asyncio.get_running_loop().run_in_executor(self._pool, record_inbound_message, db, phone, at)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self, timeout: float = 5.0) -> None:
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)

    async def aclose(self) -> None:
        await self.drain()
        self._pool.shutdown(wait=False, cancel_futures=True)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    refresher = WindowRefresher()
    app.state.whatsapp_windows = refresher
    try:
        yield
    finally:
        await refresher.aclose()


router = APIRouter(lifespan=_lifespan)


class _SignedParams(dict[str, list[str]]):
    """The form's fields as RequestValidator reads them fastest (its `getall` path; every value of a
    repeated field is signed)."""

    def __init__(self, form: FormData) -> None:
        super().__init__()
        for name, value in form.multi_items():
            self.setdefault(name, []).append(str(value))

    def getall(self, name: str) -> list[str]:
        return self[name]


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: PUBLIC_URL (the base the outside world uses, any path prefix included) +
    the app's own path and query; without PUBLIC_URL, the request's own URL."""
    if not public_url:
        return str(request.url)
    path = request.scope.get("path", "")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]  # a proxy prefix is part of PUBLIC_URL, not of the route
    query = request.url.query
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


def _twiml_message(body: str) -> str:
    reply = MessagingResponse()
    reply.message(body)
    return str(reply)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


async def _verified_form(request: Request, settings: Settings) -> FormData | JSONResponse:
    """The form of a request Twilio signed, or the error response to send instead."""
    token = settings.twilio_auth_token
    signature = request.headers.get(SIGNATURE_HEADER)
    if not settings.whatsapp_enabled or token is None or not signature:
        return _error(403, "forbidden")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        return _error(413 if declared.isdigit() else 400, "bad content length")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE:
        return _error(415, "expected a form body")
    body = bytearray()
    async for chunk in request.stream():  # bounded even without (or with a lying) Content-Length
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _error(413, "body too large")
    try:
        form = read_form(bytes(body))
    except MalformedWebhook:
        return _error(400, "not a form body")
    validator = RequestValidator(token.get_secret_value())
    algorithm = _algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = signed_url(request, settings.public_url)
    if not validator.validate(url, _SignedParams(form), signature, algorithm):
        log.warning("twilio webhook with a bad signature rejected")
        return _error(403, "forbidden")
    return form


@router.post(WEBHOOK_PATH)
async def twilio_webhook(request: Request) -> Response:
    runtime = request.app.state.runtime
    form = await _verified_form(request, runtime.settings)
    if isinstance(form, Response):
        return form
    try:
        msg = inbound_from_form(form, received_at=runtime.clock())
    except MalformedWebhook as exc:
        log.warning("malformed twilio webhook rejected: %s", exc)
        return _error(400, "malformed webhook")
    if msg is None:
        log.info("non-WhatsApp message on the Twilio webhook ignored")
        return Response(EMPTY_TWIML, media_type="text/xml")
    try:
        await inbox_of(request).submit(msg)
    except Exception as exc:
        # Twilio does not deliver an inbound message again after an error answer (only a fallback URL is
        # tried), so a 503 would lose it in silence. Answer with TwiML instead: Twilio itself sends the
        # user the request to send it again, which needs nothing of ours that is down.
        log.warning("whatsapp message could not be recorded (%s); user asked to resend", type(exc).__name__)
        return Response(_twiml_message(text("unreceived")), media_type="text/xml")
    assert msg.phone is not None
    _refresher(request.app).refresh(runtime.db, msg.phone, msg.received_at or runtime.clock())
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post(STATUS_PATH)
async def twilio_status(request: Request) -> Response:
    runtime = request.app.state.runtime
    form = await _verified_form(request, runtime.settings)
    if isinstance(form, Response):
        return form
    try:
        update = status_from_form(form)
    except MalformedWebhook as exc:
        log.warning("malformed twilio status callback rejected: %s", exc)
        return _error(400, "malformed status callback")
    try:
        await asyncio.to_thread(apply_status, runtime.db, update, runtime.clock())
    except Exception:
        log.exception("whatsapp status could not be recorded")
        return _error(503, "try again later")
    return Response(status_code=204)


def apply_status(db: Database, update: StatusUpdate, at: datetime) -> None:
    """Record a status callback; a failure that means the number cannot be reached (invalid, not on
    WhatsApp, the user sent STOP) marks the subscriber unreachable and opted out. Blocking."""
    record_status(db, update.message_sid, update.status, error_code=update.error_code, at=at)
    reason = unreachable_reason(update.error_code)
    if update.status in ("failed", "undelivered") and reason and update.phone:
        record_unreachable(db, "whatsapp", update.phone, reason, at)


def _refresher(app: FastAPI) -> WindowRefresher:
    refresher: WindowRefresher | None = getattr(app.state, "whatsapp_windows", None)
    if refresher is None:  # the router's lifespan did not run (an app assembled without it)
        refresher = app.state.whatsapp_windows = WindowRefresher()
    return refresher
