"""Telegram webhook mode: POST /webhooks/telegram/webhook (Rasa's path, contract §5).

The order is the security: the `X-Telegram-Bot-Api-Secret-Token` header is compared in constant time with
TELEGRAM_WEBHOOK_SECRET before the body is even read (403 when missing or wrong, and always 403 when no
secret is configured: an unauthenticated webhook could be forged by anyone). Then the body is parsed
(`Update.de_json`; 400 on anything malformed, never 500), turned into an InboundMessage
(bot/channels/telegram_updates.py) and handed to the inbox, and Telegram gets its 200 at once; the inbox
workers answer through the Telegram sender. 503 only when the inbox cannot record the update, so Telegram
delivers it again later.

Register the webhook with `jamsosbot telegram-set-webhook` (URL from PUBLIC_URL); for development without
a public URL, `jamsosbot telegram-poll` feeds the same inbox by long polling.
"""

from __future__ import annotations

import json
import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update

from bot.channels.telegram_updates import inbound_from_update
from bot.inbox_service import inbox_of

log = logging.getLogger(__name__)
router = APIRouter()

WEBHOOK_PATH = "/webhooks/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000  # Telegram's updates are a few KB


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"ok": False, "detail": detail})


def secret_matches(expected: str | None, given: str | None) -> bool:
    if not expected or given is None:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())


@router.post(WEBHOOK_PATH)
async def telegram_webhook(request: Request) -> Response:
    settings = request.app.state.runtime.settings
    expected = settings.telegram_webhook_secret
    if not settings.telegram_enabled or not secret_matches(
        expected.get_secret_value() if expected else None, request.headers.get(SECRET_HEADER)
    ):
        return _error(403, "forbidden")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return _error(413 if declared.isdigit() else 400, "bad content length")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, "update too large")
    try:
        data = json.loads(body)
    except ValueError:
        return _error(400, "body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return _error(400, "not a Telegram update")
    try:
        update = Update.de_json(data, None)
        msg = inbound_from_update(update)
    except (TypeError, ValueError, KeyError, AttributeError):
        # A body with an update_id but fields of the wrong shape: a forger with the secret, or a bug.
        log.warning("malformed telegram update %s rejected", data.get("update_id"))
        return _error(400, "malformed update")
    if msg is None:
        return JSONResponse({"ok": True})
    try:
        await inbox_of(request).submit(msg)
    except Exception:
        log.exception("telegram update could not be recorded; Telegram will retry")
        return _error(503, "try again later")
    return JSONResponse({"ok": True})
