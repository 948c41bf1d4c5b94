"""Pick the membership backend the settings ask for (`MEMBERSHIP_BACKEND`, shared/contract.md §6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from storage.membership.base import MembershipBackend

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.db import Database


def make_membership_backend(
    settings: Settings, *, db: Database | None = None, clock: Callable[[], datetime] | None = None
) -> MembershipBackend:
    """`sql`: the project's own tables in `db` (opened from DATABASE_URL when not given).
    `http`: the membership API at MEMBERSHIP_API_URL with MEMBERSHIP_API_TOKEN, each call timed out after
    MEMBERSHIP_API_TIMEOUT seconds. Raises ValueError naming the missing setting."""
    if settings.membership_backend == "http":
        from storage.membership.http import HttpMembership

        if not settings.membership_api_url:
            raise ValueError("MEMBERSHIP_BACKEND=http needs MEMBERSHIP_API_URL")
        if settings.membership_api_token is None or not settings.membership_api_token.get_secret_value():
            raise ValueError("MEMBERSHIP_BACKEND=http needs MEMBERSHIP_API_TOKEN")
        return HttpMembership(
            settings.membership_api_url,
            settings.membership_api_token,
            timeout=settings.membership_api_timeout,
        )

    from storage.membership.sql import SqlMembershipBackend

    if db is None:
        from storage.db import open_database

        db = open_database(settings)
    return SqlMembershipBackend(db, clock=clock) if clock is not None else SqlMembershipBackend(db)
