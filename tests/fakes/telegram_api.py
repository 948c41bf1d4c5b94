"""A local HTTP server that speaks the Telegram Bot API, for tests and benchmarks.

It serves `/bot<token>/<method>` like api.telegram.org (form-encoded or JSON bodies, the `{"ok": ...}`
envelope, error codes and `parameters.retry_after`), keeps the updates that `getUpdates` long-polls, and
records every call so a test can read what the bot sent. Failures are scripted per method and chat:

    api.fail("sendMessage", status=429, retry_after=1)          # the next sendMessage gets a flood error
    api.block(chat_id)                                          # every send to that chat: 403 blocked
    api.fail("sendMessage", status=0)                           # the connection drops without a response

It runs in a daemon thread (stdlib ThreadingHTTPServer), so it works from sync and async tests alike and
is a real network peer for python-telegram-bot's httpx client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

# Fields that stay strings even when they look like JSON (the Bot API treats them as text).
STRING_FIELDS = {
    "text",
    "caption",
    "callback_query_id",
    "secret_token",
    "url",
    "photo",
    "action",
    "parse_mode",
}
MAX_LONG_POLL = 5.0  # seconds a getUpdates call may hang here (tests never need Telegram's 50)
SEND_METHODS = {"sendMessage", "sendPhoto"}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    status: int = 200


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    chat_id: str | None
    times: int


@dataclass
class _State:
    calls: list[ApiCall] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    webhook: dict[str, Any] | None = None
    next_message_id: int = 1000


class FakeTelegramAPI:
    """The fake server. Use as a context manager, or call start() and close()."""

    def __init__(
        self, token: str = "123456:TEST-token_abc", *, bot_username: str = "jamsosbot_test_bot"
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self._state = _State()
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FakeTelegramAPI:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegramAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """The value for TELEGRAM_API_URL (python-telegram-bot appends the token)."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    # -- scripting ---------------------------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        with self._cond:
            self._state.updates.append(update)
            self._cond.notify_all()

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        chat_id: str | int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail. status 0 drops the
        connection without an answer (a network error for the client)."""
        if not description:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                403: "Forbidden: bot was blocked by the user",
                400: "Bad Request: chat not found",
                502: "Bad Gateway",
            }.get(status, "Error")
        with self._cond:
            chat = None if chat_id is None else str(chat_id)
            self._state.failures.append(_Failure(method, status, description, retry_after, chat, times))

    def block(self, chat_id: str | int) -> None:
        """The user blocked the bot: every send to this chat answers 403 from now on."""
        with self._cond:
            self._state.blocked.add(str(chat_id))

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def calls(self) -> list[ApiCall]:
        with self._cond:
            return list(self._state.calls)

    def calls_of(self, method: str, *, ok_only: bool = True) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def sent(self, chat_id: str | int | None = None) -> list[dict[str, Any]]:
        """Parameters of every message successfully sent (sendMessage, sendPhoto), oldest first."""
        return [
            c.params
            for c in self.calls
            if c.method in SEND_METHODS
            and c.status == 200
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def sent_texts(self, chat_id: str | int | None = None) -> list[str]:
        return [str(p.get("text", p.get("caption", ""))) for p in self.sent(chat_id)]

    @property
    def webhook(self) -> dict[str, Any] | None:
        with self._cond:
            return None if self._state.webhook is None else dict(self._state.webhook)

    # -- serving (called from the handler threads) ------------------------------------------------------
    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        call = ApiCall(method, params, time.monotonic())
        with self._cond:
            self._state.calls.append(call)
            failure = self._take_failure(method, params)
        if failure is not None:
            call.status = failure.status
            if failure.status == 0:
                return None
            return failure.status, _error(failure.status, failure.description, failure.retry_after)
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            return 404, _error(404, "Not Found")
        try:
            result = handler(params)
        except _ApiError as exc:
            call.status = exc.status
            return exc.status, _error(exc.status, exc.description)
        return 200, {"ok": True, "result": result}

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        chat = str(params.get("chat_id", ""))
        if method in SEND_METHODS | {"sendChatAction"} and chat in self._state.blocked:
            return _Failure(method, 403, "Forbidden: bot was blocked by the user", None, chat, 1)
        for failure in self._state.failures:
            if failure.method == method and (failure.chat_id is None or failure.chat_id == chat):
                failure.times -= 1
                if failure.times <= 0:
                    self._state.failures.remove(failure)
                return failure
        return None

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Jamsos",
            "username": self.bot_username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user()

    def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), MAX_LONG_POLL)
        with self._cond:
            if self._state.webhook is not None:
                raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
            while True:
                if offset:  # confirming an offset forgets the updates before it, as Telegram does
                    self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
                pending = self._state.updates[:limit]
                remaining = deadline - time.monotonic()
                if pending or remaining <= 0 or self._closing:
                    return pending
                self._cond.wait(remaining)

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id is None or str(chat_id) == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        with self._cond:
            self._state.next_message_id += 1
            message_id = self._state.next_message_id
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": self._bot_user(),
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text", ""))
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        _check_markup(params.get("reply_markup"))
        return self._message(params, text=text)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        if len(str(params.get("caption", ""))) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        _check_markup(params.get("reply_markup"))
        photo = [{"file_id": "AgAD-fake", "file_unique_id": "fake", "width": 320, "height": 320}]
        caption = {"caption": params["caption"]} if params.get("caption") else {}
        return self._message(params, photo=photo, **caption)

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        if params.get("action") not in {"typing", "upload_photo", "record_voice", "find_location"}:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url", ""))
        if not url:
            return self._m_deleteWebhook(params)
        if not url.startswith("https://"):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _valid_secret(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._cond:
            self._state.webhook = dict(params)
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self._state.webhook = None
            if params.get("drop_pending_updates"):
                self._state.updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        hook = self.webhook or {}
        with self._cond:
            pending = len(self._state.updates)
        return {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": pending}


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _valid_secret(secret: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    return 1 <= len(secret) <= 256 and set(secret) <= allowed


def _check_markup(markup: Any) -> None:
    """Reject what Telegram rejects in an inline keyboard: callback data over 64 bytes, empty text."""
    if not markup:
        return
    if not isinstance(markup, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise _ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _parse_params(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        loaded = json.loads(body)
        return dict(loaded) if isinstance(loaded, dict) else {}
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        if key in STRING_FIELDS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


class _Handler(BaseHTTPRequestHandler):
    api: FakeTelegramAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the recorded calls instead
        return

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        prefix = f"/bot{self.api.token}/"
        if not self.path.startswith(prefix):
            self._reply(401, _error(401, "Unauthorized"))
            return
        method = self.path[len(prefix) :].split("?", 1)[0]
        try:
            params = _parse_params(self.headers.get("Content-Type", ""), body)
        except ValueError:
            self._reply(400, _error(400, "Bad Request: can't parse JSON"))
            return
        answer = self.api._dispatch(method, params)
        if answer is None:
            self.close_connection = True  # a dropped connection: the client sees a network error
            return
        self._reply(*answer)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
