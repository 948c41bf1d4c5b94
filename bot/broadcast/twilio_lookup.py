"""Asking Twilio what was sent: the messages to one number, newest first, through the Messages API's list
(the SDK, in a thread). The broadcast uses it to settle a WhatsApp send left in doubt by a crashed worker
(bot/broadcast/channels.py, WhatsAppPort.find)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.channels.whatsapp_parse import address_of


class TwilioLookup:
    """Lists recent messages to a number through Twilio's Messages API (the SDK, in a thread)."""

    def __init__(
        self, *, account_sid: str, auth_token: str, sender: str, api_url: str, timeout: float = 10.0
    ) -> None:
        self.sender = address_of(sender)
        self._client = Client(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout), environment={}
        )
        self._client.api.base_url = api_url.rstrip("/")
        self._lock = asyncio.Lock()  # one requests session: one call at a time (in-doubt checks are rare)

    async def recent(self, to: str) -> list[tuple[str, str, datetime]]:
        async with self._lock:
            return await asyncio.to_thread(self._recent, to)

    def _recent(self, to: str) -> list[tuple[str, str, datetime]]:
        messages = self._client.api.v2010.account.messages.list(
            to=address_of(to), from_=self.sender, limit=20
        )
        return [
            (str(m.sid), str(m.body or ""), m.date_created) for m in messages if m.date_created is not None
        ]
