"""The broadcast worker's WhatsApp sender: bot/channels/whatsapp_sender.py's `WhatsAppSender`, whose
sends without retries (the broadcast retries through its queue) POST the Messages API form on a shared
keep-alive aiohttp session (bot/broadcast/bulk_http.py) instead of the SDK in a thread. The parameters are
the sender's own (`_params`); an error answer becomes the SDK's exception (`Version.exception`), mapped by
bot/channels/whatsapp_errors.py as for any send; sends with retries go the library's way.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import twilio
from twilio.base.version import Version
from twilio.http.response import Response

from bot.broadcast.bulk_http import BulkSession
from bot.channels.whatsapp_errors import map_error
from bot.channels.whatsapp_sender import WhatsAppSender
from bot.outbound import SendError

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
# the SDK's keyword arguments (WhatsAppSender._params) -> the Messages API's form fields
FIELDS = {
    "to": "To",
    "from_": "From",
    "body": "Body",
    "content_sid": "ContentSid",
    "content_variables": "ContentVariables",
    "media_url": "MediaUrl",
    "status_callback": "StatusCallback",
}


class BulkWhatsAppSender(WhatsAppSender):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._url = f"{self.api_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        credentials = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode()
        self._http = BulkSession(
            {
                "Authorization": f"Basic {credentials}",
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": f"twilio-python/{twilio.__version__} (aiohttp; jamsosbot broadcast)",
            }
        )

    async def _create(self, params: dict[str, Any], *, retry: bool) -> str:
        if retry:
            return await super()._create(params, retry=retry)
        try:
            return await self._post(params)
        except SendError as error:  # raised as is: its cause tells whether the request may have arrived
            log.warning("whatsapp send failed: %s (code %s)", type(error).__name__, error.code)
            raise
        except Exception as exc:
            mapped = map_error(exc, retry_after=self.retry.delay(0))
            log.warning("whatsapp send failed: %s (code %s)", type(mapped).__name__, mapped.code)
            raise mapped from exc

    async def _post(self, params: dict[str, Any]) -> str:
        """Create one message; its sid. Raises the SDK's exception for an error answer."""
        try:
            async with self._http.get().post(self._url, data=form(params)) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"network error: {type(exc).__name__}", code="network", permanent=False) from exc
        if not 200 <= status < 300:
            raise Version.exception("POST", self._url, Response(status, text), "Unable to create record")
        sid = json.loads(text).get("sid") if text else None
        if not sid:
            raise SendError("Twilio answered without a message sid", code="no_sid", permanent=False)
        return str(sid)

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self._http.close()


def form(params: dict[str, Any]) -> bytes:
    """The urlencoded form for the SDK's `messages.create(**params)` (a list becomes repeated fields), as
    `urlencode` makes it; what every recipient shares is quoted once."""
    return "&".join(
        f"{FIELDS[key]}={(_quoted if key in SHARED else quote_plus)(str(item))}"
        for key, value in params.items()
        for item in (value if isinstance(value, list) else [value])
    ).encode()


SHARED = {"from_", "status_callback", "content_sid", "media_url"}  # the same for every recipient


@lru_cache(maxsize=64)  # never a recipient's number, name or text
def _quoted(value: str) -> str:
    return quote_plus(value)
