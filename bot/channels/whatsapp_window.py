"""WhatsApp's 24-hour customer-service window, per user.

Free-form messages may be sent only within 24 hours of the user's last message; after that, only an
approved template (ContentSid), or Twilio answers 63016. The last inbound time lives on the subscriber row
(`subscribers.last_inbound_at`, in the database every process shares): proactive messages go only to
subscribers, and opting in is itself an inbound message. Every verified inbound WhatsApp message refreshes
it (`record_inbound_message`, called by the webhook after it answers Twilio).

A small safety margin keeps a message that would reach Twilio at the very edge of the window on the
template path: sending a template inside the window is allowed, free-form text outside it is not.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from storage.db import Database
from storage.repo.subscribers import get_subscriber, record_inbound

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SESSION_WINDOW = timedelta(hours=24)
SAFETY_MARGIN = timedelta(minutes=10)


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether free-form text sent at `now` is inside the window opened by a message at `last_inbound_at`."""
    if last_inbound_at is None:
        return False
    return timedelta(0) <= now - last_inbound_at < SESSION_WINDOW - SAFETY_MARGIN


def within_session_window(db: Database, phone: str, now: datetime) -> bool:
    """Whether free-form text may be sent to the WhatsApp user `phone` (E.164) at `now`. False for a
    number that is not a subscriber (nothing is known about its last message). Blocking (one query)."""
    subscriber = get_subscriber(db, channel=CHANNEL, chat_id=phone)
    return subscriber is not None and window_open(subscriber.last_inbound_at, now)


def record_inbound_message(db: Database, phone: str, at: datetime) -> None:
    """Refresh the user's window (a no-op for a non-subscriber). Blocking; failures are logged, never
    raised: losing one refresh only makes a later broadcast use its template."""
    try:
        record_inbound(db, channel=CHANNEL, chat_id=phone, at=at)
    except Exception:
        log.exception("recording the WhatsApp session window failed")
