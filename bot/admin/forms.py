"""The compose form and the audience builder as HTML form fields, to and from the broadcast service's
CampaignDraft and Audience. Lists (regions, sources) are typed comma-separated; "subscribed since" is a
date, taken as midnight WIB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from pathlib import Path

import yaml

import flows
from bot.broadcast.model import REGISTER_PAYLOAD, Audience, CampaignButton, CampaignDraft
from bot.clock import WIB

TEMPLATE_VARIABLES = 5  # inputs offered for a WhatsApp template's variables ({{1}} … {{5}})
OCCUPATIONS_FILE = Path(flows.__file__).with_name("content") / "occupations.yml"
DEFAULT_BUTTON = "Daftar sekarang"

CHANNEL_LABELS = {"": "Semua saluran", "telegram": "Telegram", "whatsapp": "WhatsApp"}
REGISTRATION_LABELS = {
    "": "Semua",
    "none": "Belum pernah mendaftar",
    "started": "Mulai daftar, belum selesai",
    "submitted": "Pendaftaran terkirim",
    "awaiting_payment": "Menunggu pembayaran",
    "active": "Sudah aktif",
    "rejected": "Ditolak",
}


@cache
def occupation_choices() -> list[tuple[str, str]]:
    """(value, title) of the project's occupation categories (flows/content/occupations.yml)."""
    data = yaml.safe_load(OCCUPATIONS_FILE.read_text(encoding="utf-8"))
    return [(str(o["value"]), str(o["title"])) for o in data["occupations"]]


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime.combine(day, time(0, 0), tzinfo=WIB)


@dataclass
class ComposeForm:
    """The compose page's fields, as strings (what the browser sent, or what a draft fills in)."""

    name: str = ""
    text: str = ""
    image_url: str = ""
    with_button: bool = False
    button_title: str = DEFAULT_BUTTON
    template_sid: str = ""
    variables: list[str] = field(default_factory=lambda: [""] * TEMPLATE_VARIABLES)
    channel: str = ""
    region: str = ""
    occupation: str = ""
    registration: str = ""
    subscribed_since: str = ""
    source: str = ""

    @classmethod
    def parse(cls, form: Mapping[str, object]) -> ComposeForm:
        def get(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        text = form.get("text")
        return cls(
            name=get("name"),
            text=text.replace("\r\n", "\n") if isinstance(text, str) else "",
            image_url=get("image_url"),
            with_button=get("with_button") in ("1", "on", "true"),
            button_title=get("button_title") or DEFAULT_BUTTON,
            template_sid=get("template_sid"),
            variables=[get(f"var_{i}") for i in range(1, TEMPLATE_VARIABLES + 1)],
            channel=get("channel"),
            region=get("region"),
            occupation=get("occupation"),
            registration=get("registration"),
            subscribed_since=get("subscribed_since"),
            source=get("source"),
        )

    def audience(self) -> Audience:
        return Audience(
            channels=(self.channel,) if self.channel else (),
            regions=tuple(_split(self.region)),
            occupations=(self.occupation.lower(),) if self.occupation else (),
            registration=(self.registration,) if self.registration else (),
            subscribed_since=_since(self.subscribed_since),
            sources=tuple(_split(self.source)),
        )

    def draft(self) -> CampaignDraft:
        # keep variables by position: {{2}} stays 2 even when {{1}} is left empty
        variables = {str(i): v for i, v in enumerate(self.variables, start=1) if v}
        return CampaignDraft(
            name=self.name,
            text=self.text,
            audience=self.audience(),
            image_url=self.image_url or None,
            button=CampaignButton(self.button_title, REGISTER_PAYLOAD) if self.with_button else None,
            template_sid=self.template_sid or None,
            template_variables=variables,
        )

    @classmethod
    def of(cls, draft: CampaignDraft) -> ComposeForm:
        audience = draft.audience
        variables = [draft.template_variables.get(str(i), "") for i in range(1, TEMPLATE_VARIABLES + 1)]
        since = audience.subscribed_since
        return cls(
            name=draft.name,
            text=draft.text,
            image_url=draft.image_url or "",
            with_button=draft.button is not None,
            button_title=draft.button.title if draft.button else DEFAULT_BUTTON,
            template_sid=draft.template_sid or "",
            variables=variables,
            channel=audience.channels[0] if len(audience.channels) == 1 else "",
            region=", ".join(audience.regions),
            occupation=audience.occupations[0] if audience.occupations else "",
            registration=audience.registration[0] if audience.registration else "",
            subscribed_since=since.astimezone(WIB).date().isoformat() if since else "",
            source=", ".join(audience.sources),
        )


def audience_summary(audience: Audience) -> list[str]:
    """The audience's filters in words, for lists and the campaign page ("Semua pelanggan" when none)."""
    parts: list[str] = []
    if audience.channels:
        parts.append("Saluran: " + ", ".join(CHANNEL_LABELS.get(c, c) for c in audience.channels))
    if audience.regions:
        parts.append("Wilayah: " + ", ".join(audience.regions))
    if audience.occupations:
        titles = dict(occupation_choices())
        parts.append("Pekerjaan: " + ", ".join(titles.get(o, o) for o in audience.occupations))
    if audience.registration:
        parts.append(
            "Pendaftaran: " + ", ".join(REGISTRATION_LABELS.get(r, r) for r in audience.registration)
        )
    if audience.subscribed_since:
        since = audience.subscribed_since.astimezone(WIB)
        parts.append(f"Berlangganan sejak {since:%d-%m-%Y}")
    if audience.sources:
        parts.append("Sumber: " + ", ".join(audience.sources))
    return parts or ["Semua pelanggan aktif"]
