"""Reading Twilio's WhatsApp webhooks: the form body, then (once its signature is checked) the message or
the delivery status it carries.

Twilio POSTs `application/x-www-form-urlencoded` fields (From "whatsapp:+62…", Body, MessageSid, NumMedia,
ProfileName, WaId, …). `read_form` only splits the body into fields, which the signature check needs;
`inbound_from_form` and `status_from_form` are for after the check. Anything that is not the shape Twilio
sends raises `MalformedWebhook` (the route answers 400, never 500).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile

from bot.inbox_workers import KIND_NON_TEXT
from bot.messages import InboundMessage

CHANNEL = "whatsapp"
ADDRESS_PREFIX = "whatsapp:"
MAX_FORM_BYTES = 64 * 1024  # a WhatsApp webhook is a few KB (a body is at most 1600 characters)
MAX_FIELDS = 200
FORM_TYPE = "application/x-www-form-urlencoded"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SID = re.compile(r"^(SM|MM|SS|IM|MG)[0-9a-fA-F]{32}$")
# Twilio's MessageType values that carry no text the bot can read.
NON_TEXT_TYPES = {"image", "video", "audio", "document", "sticker", "location", "contacts", "unsupported"}
STATUSES = (
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
)


class MalformedWebhook(ValueError):
    """The request is not a webhook of the shape Twilio sends."""


@dataclass(frozen=True)
class StatusUpdate:
    """One delivery status callback: where an outbound message stands."""

    message_sid: str
    status: str  # one of STATUSES
    error_code: str | None  # Twilio's error code when the message failed, e.g. "63016"
    phone: str | None  # the recipient, E.164


def read_form(body: bytes) -> FormData:
    """The form fields in order, repeated names kept (the signature covers every value)."""
    if len(body) > MAX_FORM_BYTES:
        raise MalformedWebhook("form too large")
    try:
        text = body.decode("utf-8")
        pairs: list[tuple[str, str | UploadFile]] = parse_qsl(  # type: ignore[assignment]
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedWebhook("not a form body") from exc
    return FormData(pairs)


def phone_of(address: str | None) -> str | None:
    """ "whatsapp:+6281234567890" → "+6281234567890"; None for anything that is not a WhatsApp address."""
    if not address or not address.startswith(ADDRESS_PREFIX):
        return None
    phone = address[len(ADDRESS_PREFIX) :]
    return phone if _E164.match(phone) else None


def address_of(phone: str) -> str:
    """ "+6281234567890" → "whatsapp:+6281234567890" (the To of an outbound message)."""
    if phone.startswith(ADDRESS_PREFIX):
        return phone
    if not _E164.match(phone):
        raise ValueError("not an E.164 number")
    return ADDRESS_PREFIX + phone


def inbound_from_form(form: FormData, *, received_at: datetime) -> InboundMessage | None:
    """The InboundMessage of a verified message webhook; None when it is not a WhatsApp user's message
    (an SMS to the same number: the bot has no SMS channel, so it is acknowledged and ignored).

    chat_id and phone are the sender's E.164 number, message_id the MessageSid (the inbox dedupes on it),
    display_name the WhatsApp ProfileName. A quick-reply button press carries its payload as the text.
    Media, stickers, locations and contacts get metadata kind=non_text (answered without a turn)."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    if not isinstance(sid, str) or not _SID.match(sid):
        raise MalformedWebhook("no MessageSid")
    sender = form.get("From")
    if not isinstance(sender, str) or not sender:
        raise MalformedWebhook("no From")
    phone = phone_of(sender)
    if phone is None:
        if sender.startswith(ADDRESS_PREFIX):
            raise MalformedWebhook("From is not an E.164 WhatsApp address")
        return None
    metadata: dict[str, str] = {}
    text = _text(form)
    if text is None:
        metadata["kind"] = KIND_NON_TEXT
        text = ""
    profile = _field(form, "ProfileName")
    return InboundMessage(
        channel=CHANNEL,
        chat_id=phone,
        text=text,
        message_id=sid,
        phone=phone,
        display_name=profile[:100] if profile else None,
        metadata=metadata,
        received_at=received_at,
    )


def _text(form: FormData) -> str | None:
    """What the user said, or None for a message without text the bot can read."""
    payload = _field(form, "ButtonPayload") or _field(form, "ListId")  # a quick-reply or list choice
    if payload:
        return payload
    num_media = _field(form, "NumMedia") or "0"
    if not num_media.isdigit():
        raise MalformedWebhook("NumMedia is not a number")
    kind = (_field(form, "MessageType") or "").lower()
    if int(num_media) > 0 or kind in NON_TEXT_TYPES or _field(form, "Latitude"):
        return None  # a photo of a KTP with a caption is still a photo: the bot does not read images
    body = _field(form, "Body") or ""
    return body if body.strip() else None


def status_from_form(form: FormData) -> StatusUpdate:
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not isinstance(sid, str) or not _SID.match(sid):
        raise MalformedWebhook("no MessageSid")
    status = (_field(form, "MessageStatus") or _field(form, "SmsStatus") or "").lower()
    if status not in STATUSES:
        raise MalformedWebhook("unknown MessageStatus")
    code = _field(form, "ErrorCode")
    if code is not None and not code.isdigit():
        raise MalformedWebhook("ErrorCode is not a number")
    return StatusUpdate(sid, status, code or None, phone_of(_field(form, "To")))


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
