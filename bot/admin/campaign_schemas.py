"""Request and response bodies of the admin API's campaign routes (they make its OpenAPI description).
They mirror bot.broadcast.model's CampaignDraft / Audience and bot.broadcast.progress's Progress / Results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from bot.broadcast.model import (
    REGISTER_PAYLOAD,
    Audience,
    CampaignButton,
    CampaignDraft,
    CampaignInfo,
)
from bot.broadcast.progress import Progress, Results

Channel = Literal["telegram", "whatsapp"]
RegistrationFilter = Literal["none", "started", "submitted", "awaiting_payment", "active", "rejected"]


class AudienceIn(BaseModel):
    """Filters over opted-in, reachable subscribers. Values in one list are alternatives (OR); different
    filters must all hold (AND); an empty list means any."""

    channels: list[Channel] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="Compared case-insensitively.")
    occupations: list[str] = Field(default_factory=list, description="Occupation categories (lower case).")
    registration: list[RegistrationFilter] = Field(default_factory=list)
    subscribed_since: AwareDatetime | None = Field(default=None, description="Opted in at or after it.")
    sources: list[str] = Field(default_factory=list, description="Where they opted in.")

    def audience(self) -> Audience:
        return Audience(
            channels=tuple(self.channels),
            regions=tuple(r.strip() for r in self.regions if r.strip()),
            occupations=tuple(o.strip().lower() for o in self.occupations if o.strip()),
            registration=tuple(self.registration),
            subscribed_since=self.subscribed_since,
            sources=tuple(s.strip() for s in self.sources if s.strip()),
        )

    @classmethod
    def of(cls, audience: Audience) -> AudienceIn:
        return cls(
            channels=list(audience.channels),  # type: ignore[arg-type]
            regions=list(audience.regions),
            occupations=list(audience.occupations),
            registration=list(audience.registration),  # type: ignore[arg-type]
            subscribed_since=audience.subscribed_since,
            sources=list(audience.sources),
        )


class ButtonIn(BaseModel):
    title: str = Field(max_length=40, examples=["Daftar sekarang"])
    payload: str = Field(
        REGISTER_PAYLOAD, max_length=64, description="What a press sends; starts registration."
    )


class TemplateIn(BaseModel):
    sid: str = Field(description="An approved WhatsApp template's ContentSid (HX + 32 hex digits).")
    variables: dict[str, str] = Field(default_factory=dict, examples=[{"1": "{nama}"}])


class CampaignIn(BaseModel):
    """A campaign as composed. `{nama}` in the text (and in template variables) becomes the recipient's
    name when known, else a warm generic greeting."""

    name: str = Field(max_length=120)
    text: str = Field(max_length=4000)
    image_url: str | None = Field(default=None, max_length=500)
    button: ButtonIn | None = None
    template: TemplateIn | None = Field(
        None, description="For WhatsApp recipients outside the 24-hour window."
    )
    audience: AudienceIn = Field(default_factory=lambda: AudienceIn())

    def draft(self) -> CampaignDraft:
        return CampaignDraft(
            name=self.name,
            text=self.text,
            audience=self.audience.audience(),
            image_url=self.image_url or None,
            button=CampaignButton(self.button.title, self.button.payload) if self.button else None,
            template_sid=self.template.sid if self.template else None,
            template_variables=dict(self.template.variables) if self.template else {},
        )


class CampaignOut(CampaignIn):
    id: int
    status: Literal["draft", "scheduled", "running", "paused", "finished", "cancelled"]
    created_by: int | None
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, info: CampaignInfo) -> CampaignOut:
        d = info.draft
        return cls(
            id=info.id,
            status=info.status,  # type: ignore[arg-type]
            name=d.name,
            text=d.text,
            image_url=d.image_url,
            button=ButtonIn(title=d.button.title, payload=d.button.payload) if d.button else None,
            template=TemplateIn(sid=d.template_sid, variables=dict(d.template_variables))
            if d.template_sid
            else None,
            audience=AudienceIn.of(d.audience),
            created_by=info.created_by,
            created_at=info.created_at,
            scheduled_at=info.scheduled_at,
            started_at=info.started_at,
            finished_at=info.finished_at,
        )


class AudienceCountOut(BaseModel):
    count: int
    by_channel: dict[str, int]


class TestSendIn(BaseModel):
    channel: Channel
    chat_id: str = Field(
        min_length=1, max_length=64, description="Your own Telegram chat id or WhatsApp number."
    )
    name: str | None = Field(default=None, max_length=60, description="Used for {nama} in this test.")


class TestSendOut(BaseModel):
    message_id: str


class ScheduleIn(BaseModel):
    at: AwareDatetime = Field(description="When to start (quiet hours still apply then).")


class ProgressOut(BaseModel):
    campaign_id: int
    status: str
    planned: bool = Field(description="Every recipient has a delivery row (before that, total still grows).")
    total: int
    done: int = Field(description="Deliveries settled: sent, delivered, read, failed or skipped.")
    sent: int = Field(description="Accepted by the platform, including those since delivered or read.")
    failed: int
    skipped: int
    waiting: int
    fraction: float
    counts: dict[str, int]
    by_channel: dict[str, dict[str, int]]

    @classmethod
    def of(cls, p: Progress) -> ProgressOut:
        return cls(
            campaign_id=p.campaign_id,
            status=p.status,
            planned=p.planned,
            total=p.total,
            done=p.settled,
            sent=p.sent,
            failed=p.counts["failed"],
            skipped=p.counts["skipped"],
            waiting=p.counts["pending"] + p.counts["claimed"],
            fraction=round(p.fraction, 4),
            counts=dict(p.counts),
            by_channel={k: dict(v) for k, v in p.by_channel.items()},
        )


class ResultsOut(BaseModel):
    progress: ProgressOut
    failed_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    opted_out_after: int
    registrations_started_after: int
    registrations_completed_after: int = Field(description="Registrations submitted after the message.")

    @classmethod
    def of(cls, r: Results) -> ResultsOut:
        return cls(
            progress=ProgressOut.of(r.progress),
            failed_by_reason=dict(r.failed_by_reason),
            skipped_by_reason=dict(r.skipped_by_reason),
            opted_out_after=r.opted_out_after,
            registrations_started_after=r.registrations_started_after,
            registrations_completed_after=r.registrations_submitted_after,
        )


class QuietHoursOut(BaseModel):
    enabled: bool
    start: str = Field(examples=["21:00"])
    end: str = Field(examples=["07:00"])
    timezone: str
    quiet_now: bool


Preview = dict[str, dict[str, dict[str, Any]]]
