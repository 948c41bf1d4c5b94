"""Rasa's REST channel: POST /webhooks/rest/webhook {"sender", "message"} → the list of bot messages.

Open on the embedded defaults; when REST_CHANNEL_TOKEN is set it requires `Authorization: Bearer <token>`.
A `sender` is a conversation of its own, like a chat id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.inbox_workers import is_outage
from bot.messages import InboundMessage
from bot.texts import text
from flows.replies import Reply

log = logging.getLogger(__name__)
router = APIRouter()


class RestMessage(BaseModel):
    sender: str = Field(min_length=1, max_length=128)
    message: str = Field(max_length=20_000)
    metadata: dict[str, Any] | None = None


def check_bearer(expected: str | None, authorization: str | None) -> None:
    if expected is None:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status_code=401, detail="bearer token required", headers={"WWW-Authenticate": "Bearer"}
        )


class BotMessage(BaseModel):
    """One message of the bot, as Rasa's REST channel returns it."""

    recipient_id: str
    text: str | None = None
    image: str | None = None
    buttons: list[dict[str, str]] | None = None


@router.post(
    "/webhooks/rest/webhook",
    response_model=None,
    responses={200: {"model": list[BotMessage], "description": "what the bot says, in order"}},
)
async def rest_webhook(
    body: RestMessage,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    runtime = request.app.state.runtime
    token = runtime.settings.rest_channel_token
    check_bearer(token.get_secret_value() if token else None, authorization)
    msg = InboundMessage(channel="rest", chat_id=body.sender, text=body.message)
    try:
        replies = await runtime.run_turn(msg)
    except Exception as exc:
        # A dependency failed mid-turn; nothing was saved, so the user can simply send again.
        if is_outage(exc):  # expected while it is down: one line per request, not a stack trace
            log.warning("rest turn failed: a dependency is out (%s)", type(exc).__name__)
        else:
            log.exception("rest turn failed")
        replies = [Reply(text("trouble"))]
    # Built here rather than by a response model: the replies are already plain JSON-ready dicts.
    return JSONResponse([r.to_rasa(body.sender) for r in replies])
