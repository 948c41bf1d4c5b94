"""Server-side console sessions, kept in the runtime's session store (Redis in production, so every web
worker sees them; in-process on the embedded default).

The browser holds only a random session id in an HttpOnly cookie; the store holds, under a hash of that id,
the staff id and the session's CSRF token. Logging out deletes the entry, so a copied cookie dies with it;
a new id is issued at every login (no session fixation). Sessions end after `IDLE_SECONDS` without use and
after `MAX_SECONDS` in any case.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from storage.sessions_base import SessionStore

COOKIE = "jb_admin"
IDLE_SECONDS = 8 * 3600  # a working day
MAX_SECONDS = 24 * 3600
TOUCH_EVERY = 300  # refresh the idle expiry at most this often (one store write per 5 minutes, not per click)


@dataclass(frozen=True)
class ConsoleSession:
    staff_id: int
    csrf: str
    created: float
    touched: float


def _key(session_id: str) -> str:
    # the store never sees the cookie value itself: a leaked store dump cannot be replayed as cookies
    return "admin-session:" + hashlib.sha256(session_id.encode()).hexdigest()


def start_session(store: SessionStore, staff_id: int, *, now: float | None = None) -> str:
    """Create a session for the staff member; returns the id to put in the cookie."""
    now = time.time() if now is None else now
    session_id = secrets.token_urlsafe(32)
    value = {"staff_id": staff_id, "csrf": secrets.token_urlsafe(32), "created": now, "touched": now}
    store.set(_key(session_id), value, IDLE_SECONDS)
    return session_id


def load_session(
    store: SessionStore, session_id: str | None, *, now: float | None = None
) -> ConsoleSession | None:
    """The live session for this cookie value, else None (absent, expired, or past its maximum age)."""
    if not session_id or len(session_id) > 100:
        return None
    now = time.time() if now is None else now
    value = store.get(_key(session_id))
    if value is None:
        return None
    try:
        session = ConsoleSession(
            staff_id=int(value["staff_id"]),
            csrf=str(value["csrf"]),
            created=float(value["created"]),
            touched=float(value["touched"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if now - session.created > MAX_SECONDS:
        store.delete(_key(session_id))
        return None
    if now - session.touched > TOUCH_EVERY:
        store.set(_key(session_id), {**value, "touched": now}, IDLE_SECONDS)
    return session


def end_session(store: SessionStore, session_id: str | None) -> None:
    if session_id:
        store.delete(_key(session_id))
