"""CSRF protection for the console.

Signed-in forms use the synchronizer-token pattern: each server-side session holds a random token, every
state-changing form carries it in a hidden `csrf_token` field (scripts send it as `X-CSRF-Token`), and the
server compares in constant time. The login form, which has no session yet, uses a double-submit cookie:
a random `jb_login_csrf` cookie whose value the form must repeat (an attacker's page can neither read nor
set that cookie, so it cannot make a victim's browser log in to the attacker's account).

SameSite=Lax cookies already stop most cross-site POSTs; the tokens are the second lock, for older browsers
and same-site attackers.
"""

from __future__ import annotations

import secrets

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "jb_login_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """True when both are present and equal (constant-time, so timing leaks nothing)."""
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())
