"""Staff roles and what each may do. One table, read by the console pages, the API and the CLI alike, so a
permission is never decided in two places.

- viewer: reads everything except the staff list and the audit log (dashboards, campaigns, results).
- broadcaster: a viewer who also composes, test-sends, schedules, starts, pauses, resumes and cancels.
- admin: everything, including staff accounts and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.models import STAFF_ROLES


class Permission(StrEnum):
    VIEW = "view"
    SEND = "send"  # compose, test-send, schedule, start, pause, resume, cancel
    MANAGE_STAFF = "manage_staff"  # staff accounts, API tokens of others, the audit log


GRANTS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.VIEW}),
    "broadcaster": frozenset({Permission.VIEW, Permission.SEND}),
    "admin": frozenset(Permission),
}
assert set(GRANTS) == set(STAFF_ROLES), "every storage role needs its grants"

ROLE_LABELS = {"admin": "Admin", "broadcaster": "Pengirim siaran", "viewer": "Pemantau"}


@dataclass(frozen=True)
class StaffUser:
    """The signed-in staff member, re-read from the database on every request (a disabled account or a
    changed role takes effect at once, even for a live session)."""

    id: int
    username: str
    role: str
    via: str  # "session" (console cookie) or "token" (API bearer token)

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS.get(self.role, frozenset())

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)
