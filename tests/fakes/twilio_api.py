"""A local HTTP server that speaks the Twilio Messages API, and factories for Twilio's webhook requests.

The server answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded, HTTP Basic auth
with the Account SID and Auth Token), `GET .../Messages/{Sid}.json` and `GET .../Messages.json?To=&From=`
(one page, newest first) the way api.twilio.com does: a 201 with the Message resource, or an error body
`{"code", "message", "more_info", "status"}`. It validates what
Twilio validates for a WhatsApp send (a `To` address, a sender, a body or content, the 1600-character
limit) and records every request so a test can read what the bot sent. Failures are scripted:

    api.fail(code=63016)                       # the next send: 400 outside the 24-hour window
    api.fail(code=21211, to="whatsapp:+62…")   # the next send to that address: invalid number
    api.fail(status=429, code=20429, times=2)  # two rate-limited answers
    api.fail(status=500)                       # a server error (no Twilio code)
    api.fail(status=0)                         # the connection drops without an answer
    api.unsubscribe("whatsapp:+62…")           # the user sent STOP: every send to them answers 21610

It runs in a daemon thread (stdlib ThreadingHTTPServer), so it is a real network peer for the SDK's
requests-based client, from sync and async tests alike.

The factories build what Twilio POSTs to the bot: `inbound_form` (a WhatsApp message webhook, fields as
Twilio sends them), `status_form` (a status callback), and `sign` (the X-Twilio-Signature header, computed
with the SDK's own RequestValidator).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f3c2e1d0b9a8f7e6d5c4b3a2f1e0d9c8"
BOT_NUMBER = "whatsapp:+14155238886"  # Twilio's WhatsApp sandbox number
MAX_BODY = 1600
_ADDRESS = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC\w{{32}})/Messages(?:/(?P<sid>\w+))?\.json$")

# The messages Twilio answers with for the codes the bot handles (text as in Twilio's error catalogue).
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21604: "A 'To' phone number is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21619: "A text message body or media urls must be specified.",
    21656: "The ContentVariables Parameter is invalid.",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
}


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, Any]  # form fields (a repeated field becomes a list)
    at: float  # time.monotonic() when it arrived
    status: int = 0  # what the fake answered (0: connection dropped)
    sid: str | None = None  # the created message's sid


@dataclass
class _Failure:
    status: int
    code: int | None
    to: str | None
    times: int


@dataclass
class _State:
    requests: list[ApiRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)


class FakeTwilioAPI:
    """The fake server. Use as a context manager, or call start() and close()."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._state = _State()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FakeTwilioAPI:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilioAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """The value for TWILIO_API_URL."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- scripting ---------------------------------------------------------------------------------------
    def fail(
        self, *, status: int = 400, code: int | None = None, to: str | None = None, times: int = 1
    ) -> None:
        """Make the next `times` sends (to `to`, if given) fail with this HTTP status and Twilio code.
        status 0 drops the connection without an answer (a network error for the client)."""
        if code == 20429:
            status = 429
        with self._lock:
            self._state.failures.append(_Failure(status, code, to, times))

    def unsubscribe(self, to: str) -> None:
        """The user replied STOP: Twilio refuses every further send to them with 21610."""
        with self._lock:
            self._state.unsubscribed.add(to)

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[ApiRequest]:
        with self._lock:
            return list(self._state.requests)

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """The form fields of every message accepted (201), oldest first; `to` as "whatsapp:+62…"."""
        return [
            r.params
            for r in self.requests
            if r.method == "POST" and r.status == 201 and (to is None or r.params.get("To") == to)
        ]

    def sent_bodies(self, to: str | None = None) -> list[str]:
        return [str(p.get("Body", "")) for p in self.sent(to)]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.messages[sid])

    # -- serving (called from the handler threads) ------------------------------------------------------
    def _serve(
        self, method: str, path: str, auth: str | None, body: bytes
    ) -> tuple[int, dict[str, Any]] | None:
        params = _form(body)
        request = ApiRequest(method, path, params, time.monotonic())
        with self._lock:
            self._state.requests.append(request)
        status, answer = self._answer(method, path, auth, params)
        request.status = status
        if status == 201:
            request.sid = str(answer["sid"])
        return None if status == 0 else (status, answer)

    def _answer(
        self, method: str, path: str, auth: str | None, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        match = _MESSAGES.match(path.split("?", 1)[0])
        if match is None:
            return 404, _error(20404, 404)
        if not self._authorized(auth) or match["account"] != self.account_sid:
            return 401, _error(20003, 401)
        if method == "GET" and match["sid"]:
            with self._lock:
                found = self._state.messages.get(match["sid"])
            return (200, dict(found)) if found else (404, _error(20404, 404))
        if method == "GET":
            return 200, self._list(path, dict(parse_qsl(path.partition("?")[2])))
        if method != "POST" or match["sid"]:
            return 405, _error(None, 405, "Method not allowed")
        failure = self._take_failure(str(params.get("To", "")))
        if failure is not None:
            return failure.status, _error(failure.code, failure.status)
        problem = _validate(params)
        if problem is not None:
            return 400, _error(problem, 400)
        with self._lock:
            if params["To"] in self._state.unsubscribed:
                return 400, _error(21610, 400)
        return 201, self._create(params)

    def _list(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """A page of messages, newest first, filtered by To and From as Twilio does (one page only)."""
        with self._lock:
            messages = list(reversed(self._state.messages.values()))
        if "To" in query:
            messages = [m for m in messages if m["to"] == query["To"]]
        if "From" in query:
            messages = [m for m in messages if m["from"] == query["From"]]
        size = int(query.get("PageSize", "50"))
        uri = path.partition("?")[0]
        return {
            "messages": [dict(m) for m in messages[:size]],
            "end": min(size, len(messages)) - 1,
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
        }

    def _authorized(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and secrets.compare_digest(password, self.auth_token)

    def _take_failure(self, to: str) -> _Failure | None:
        with self._lock:
            for failure in self._state.failures:
                if failure.to is None or failure.to == to:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._state.failures.remove(failure)
                    return failure
        return None

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        media = params.get("MediaUrl")
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": params.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "num_media": str(len(media) if isinstance(media, list) else int(media is not None)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": params["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self._state.messages[sid] = resource
        return resource


def _validate(params: dict[str, Any]) -> int | None:
    """The Twilio error code for a send Twilio would refuse, or None."""
    to = params.get("To")
    if not to:
        return 21604
    if not (params.get("From") or params.get("MessagingServiceSid")):
        return 21603
    if not isinstance(to, str) or not _ADDRESS.match(to):
        return 21211
    if not (params.get("Body") or params.get("ContentSid") or params.get("MediaUrl")):
        return 21619
    if len(str(params.get("Body", ""))) > MAX_BODY:
        return 21617
    if "ContentVariables" in params:
        try:
            variables = json.loads(str(params["ContentVariables"]))
        except ValueError:
            return 21656
        if not isinstance(variables, dict):
            return 21656
    return None


def _error(code: int | None, status: int, message: str | None = None) -> dict[str, Any]:
    text = message or ERROR_MESSAGES.get(code or 0, "Internal Server Error" if status >= 500 else "Error")
    more = f"https://www.twilio.com/docs/errors/{code}" if code else None
    return {"code": code, "message": text, "more_info": more, "status": status}


def _form(body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if key in params:
            existing = params[key]
            params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[key] = value
    return params


class _Handler(BaseHTTPRequestHandler):
    api: FakeTwilioAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the recorded requests
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.api._serve(method, self.path, self.headers.get("Authorization"), body)
        if answer is None:
            self.close_connection = True  # a dropped connection: the client sees a network error
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# -- what Twilio POSTs to the bot ------------------------------------------------------------------------
def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio puts on a webhook to `url` with these form fields."""
    return str(RequestValidator(token).compute_signature(url, params))


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def inbound_form(
    phone: str,
    body: str = "",
    *,
    sid: str | None = None,
    profile_name: str = "Siti Aminah",
    to: str = BOT_NUMBER,
    account_sid: str = ACCOUNT_SID,
    media: list[tuple[str, str]] | None = None,
    location: tuple[float, float] | None = None,
    button: tuple[str, str] | None = None,
) -> dict[str, str]:
    """A WhatsApp message webhook as Twilio sends it. `phone` is E.164 ("+62812…"); `media` is a list of
    (content type, url); `location` (latitude, longitude); `button` a quick-reply press (text, payload)."""
    sid = sid or message_sid()
    form = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media or [])),
        "ProfileName": profile_name,
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": phone.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "ChannelMetadata": json.dumps(
            {
                "type": "whatsapp",
                "data": {"context": {"ProfileName": profile_name, "WaId": phone.lstrip("+")}},
            }
        ),
        "From": f"whatsapp:{phone}",
        "ApiVersion": API_VERSION,
    }
    for n, (content_type, url) in enumerate(media or []):
        form[f"MediaContentType{n}"] = content_type
        form[f"MediaUrl{n}"] = url
        form["MessageType"] = content_type.split("/", 1)[0]
    if location is not None:
        form["Latitude"], form["Longitude"] = str(location[0]), str(location[1])
        form["MessageType"] = "location"
    if button is not None:
        form["ButtonText"], form["ButtonPayload"] = button
        form["MessageType"] = "button"
    return form


def status_form(
    sid: str,
    status: str,
    phone: str,
    *,
    error_code: int | None = None,
    account_sid: str = ACCOUNT_SID,
    sender: str = BOT_NUMBER,
) -> dict[str, str]:
    """A message status callback as Twilio sends it (`status`: queued, sent, delivered, read, failed …)."""
    form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": API_VERSION,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + "0" * 32,
        "To": f"whatsapp:{phone}",
        "From": sender,
        "MessageSid": sid,
        "StructuredMessage": "false",
        "AccountSid": account_sid,
        "ChannelToAddress": phone,
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
        form["EventType"] = "UNDELIVERED" if status == "undelivered" else "FAILED"
    return form
