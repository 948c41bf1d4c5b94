"""Logging that never carries personal data.

Every record passes through `RedactingFilter`, which masks anything shaped like a NIK, KPJ, phone number,
date of birth or e-mail address in the message and its arguments. Code should not log personal values in
the first place; this filter is the net under that rule.
"""

from __future__ import annotations

import logging
import re

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Telegram bot tokens (they appear in Bot API URLs: /bot123456:AA.../sendMessage)
    (re.compile(r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}"), "[BOT_TOKEN]"),
    # bearer tokens and Twilio auth in headers or URLs
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{12,}"), r"\1[TOKEN]"),
    # 16-digit NIK, also grouped with spaces / dots / dashes
    (re.compile(r"(?<!\d)\d{4}[ .-]?\d{4}[ .-]?\d{4}[ .-]?\d{4}(?!\d)"), "[NIK]"),
    # phone numbers: +62 / 62 / 08 followed by 7-12 digits, with optional separators
    (re.compile(r"(?<![\w+])(?:\+?62|0)[ -]?8[\d -]{7,14}\d(?!\d)"), "[PHONE]"),
    # 11-digit KPJ and any other long digit run
    (re.compile(r"(?<!\d)\d{9,}(?!\d)"), "[NUMBER]"),
    # dates: 12-05-1985, 12/05/85, 1985-05-12
    (re.compile(r"(?<!\d)(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})(?!\d)"), "[DATE]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[EMAIL]"),
]


ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            # uvicorn's access formatter unpacks the arguments themselves (client, method, path, HTTP
            # version, status): redact each text argument and keep the tuple, or every request line fails.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not take logging down
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


_installed = False


def install_redaction() -> None:
    """Redact every log record at creation, whichever handler (ours, uvicorn's, pytest's) emits it."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        RedactingFilter().filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_logging(level: int = logging.INFO) -> None:
    install_redaction()
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level)
