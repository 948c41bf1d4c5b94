"""What a failed Twilio send means for the bot: Twilio's answers mapped onto bot.outbound's error tree.

    HTTP 429 / code 20429                 RateLimited (retried with backoff by the sender)
    HTTP 5xx, network errors, timeouts    SendError, transient (retried with backoff by the sender)
    21211, 21614, 63024, 63003            RecipientUnreachable("invalid_number" / "not_on_whatsapp")
    21610                                 RecipientUnreachable("unsubscribed"): the user sent STOP
    63016                                 OutsideSessionWindow: free-form text more than 24 h after the
                                          user's last message; only an approved template may be sent
    20003                                 SendError, permanent: wrong TWILIO_ACCOUNT_SID / AUTH_TOKEN
    any other 4xx                         SendError, permanent (retrying the same request cannot help)

The same codes arrive later in delivery status callbacks (`ErrorCode`); `unreachable_reason` tells which
of them mean the number cannot be reached, so the subscriber can be marked.
"""

from __future__ import annotations

from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.outbound import RateLimited, RecipientUnreachable, SendError

OUTSIDE_WINDOW = 63016
UNREACHABLE_CODES: dict[int, str] = {
    21211: "invalid_number",  # Invalid 'To' Phone Number
    21614: "invalid_number",  # 'To' number is not a valid mobile number
    63024: "invalid_number",  # Invalid message recipient
    63003: "not_on_whatsapp",  # Channel could not find To address
    21610: "unsubscribed",  # Attempt to send to unsubscribed recipient (STOP)
}
AUTH_FAILED = 20003
RATE_LIMIT_CODE = 20429


class OutsideSessionWindow(SendError):
    """Twilio refused free-form text: the user's last message is more than 24 hours old. Send an approved
    template (ContentSid) instead (WhatsAppSender.send_proactive does this)."""

    permanent = True

    def __init__(self) -> None:
        super().__init__("outside the 24-hour WhatsApp session window", code=str(OUTSIDE_WINDOW))


def unreachable_reason(code: int | str | None) -> str | None:
    """The short reason for a Twilio error code that means the recipient cannot be reached, else None."""
    try:
        return UNREACHABLE_CODES.get(int(code)) if code is not None else None
    except ValueError:
        return None


def map_error(exc: Exception, *, retry_after: float) -> SendError:
    """The SendError for an exception raised by the Twilio client. `retry_after` is the wait to suggest
    on a rate limit (Twilio does not say how long)."""
    if isinstance(exc, TwilioRestException):
        code = exc.code
        if exc.status == 429 or code == RATE_LIMIT_CODE:
            return RateLimited(retry_after, code=str(code or 429))
        if exc.status >= 500:
            return SendError(f"Twilio answered {exc.status}", code=str(code or exc.status), permanent=False)
        if code == OUTSIDE_WINDOW:
            return OutsideSessionWindow()
        reason = unreachable_reason(code)
        if reason is not None:
            return RecipientUnreachable(reason, code=str(code))
        if code == AUTH_FAILED or exc.status == 401:
            return SendError("Twilio refused the credentials", code=str(code or 401), permanent=True)
        return SendError(f"Twilio refused the message ({code})", code=str(code or exc.status), permanent=True)
    if isinstance(exc, RequestException | TwilioException | OSError):
        return SendError(f"network error: {type(exc).__name__}", code="network", permanent=False)
    raise TypeError(f"not a Twilio or network error: {type(exc).__name__}") from exc


def is_transient(error: SendError) -> bool:
    return isinstance(error, RateLimited) or not error.permanent
