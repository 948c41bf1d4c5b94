"""Request and response bodies of the admin API (they make its OpenAPI description)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["admin", "broadcaster", "viewer"]


class Me(BaseModel):
    id: int
    username: str
    role: Role
    permissions: list[str]
    via: Literal["session", "token"]


class StaffOut(BaseModel):
    id: int
    username: str
    role: Role
    active: bool
    has_token: bool
    created_at: datetime
    last_login_at: datetime | None


class StaffIn(BaseModel):
    username: str = Field(min_length=2, max_length=60)
    role: Role
    password: str = Field(min_length=10, max_length=200)


class StaffPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class TokenOut(BaseModel):
    username: str
    token: str = Field(description="Shown once; only a hash is stored.")


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


class FunnelStepOut(BaseModel):
    key: Literal["started", "consented", "submitted", "paid"]
    label: str
    count: int


class UnrecognisedOut(BaseModel):
    text: str = Field(description="The message with personal data masked.")
    count: int
    last_seen: datetime
    reason: str | None


class SubscriberCounts(BaseModel):
    opted_in: int
    opted_out: int
    unreachable: int


class Dashboard(BaseModel):
    subscribers: dict[str, SubscriberCounts]
    funnel_30_days: list[FunnelStepOut]
    campaigns_running: int
