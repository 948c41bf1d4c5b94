"""What a campaign is, as the service's callers see it: the draft a staff member composes (text with
per-recipient fields, an optional image and button, a WhatsApp template for recipients outside the 24-hour
window, an audience), and the errors the service raises.

Per-recipient fields are written `{nama}` in the text and in template variables. A campaign message is
always one platform message (text ≤ MAX_TEXT characters, so it fits a Telegram photo caption and one
WhatsApp body): one delivery row = one provider message id, which is what makes exactly-once checkable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from storage.models import REGISTRATION_STATES

CHANNELS = ("telegram", "whatsapp")
FIELDS = ("nama",)  # the per-recipient fields a text may use
REGISTRATION_FILTERS = ("none", "started", *REGISTRATION_STATES)
MAX_TEXT = 1000  # below Telegram's 1024-character caption, with room for a long name
MAX_PERSONAL = 1024  # the text with the longest name in it: still one Telegram caption
NAME_LIMIT = 40  # a name longer than this is shortened (whole words) in a greeting
REGISTER_PAYLOAD = "/register"  # what the "Daftar sekarang" button sends: starts the registration flow
_FIELD = re.compile(r"\{([^{}]*)\}")


class BroadcastError(Exception):
    """Base of the errors the broadcast service raises on purpose."""


class CampaignNotFound(BroadcastError):
    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"campaign {campaign_id} does not exist")
        self.campaign_id = campaign_id


class CampaignInvalid(BroadcastError):
    """The draft cannot be sent as it is; `problems` lists why (English, for the console to show)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InvalidTransition(BroadcastError):
    """The action does not apply to a campaign in this status (e.g. resuming a finished one)."""

    def __init__(self, campaign_id: int, status: str, action: str) -> None:
        super().__init__(f"campaign {campaign_id} is {status}; cannot {action}")
        self.campaign_id, self.status, self.action = campaign_id, status, action


class ChannelUnavailable(BroadcastError):
    """No sender is configured for the channel (TELEGRAM_BOT_TOKEN / TWILIO_* unset)."""


@dataclass(frozen=True)
class Audience:
    """Filters over opted-in, reachable subscribers. An empty tuple means "any"; values within one filter
    are alternatives (OR), different filters must all hold (AND)."""

    channels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # compared case-insensitively
    occupations: tuple[str, ...] = ()  # the project's occupation categories (docs/occupations.md)
    registration: tuple[str, ...] = ()  # REGISTRATION_FILTERS
    subscribed_since: datetime | None = None  # opted in at or after
    sources: tuple[str, ...] = ()  # where they opted in (subscribers.opted_in_source)

    def problems(self) -> list[str]:
        found = [f"unknown channel {c!r}" for c in self.channels if c not in CHANNELS]
        found += [
            f"unknown registration status {r!r}" for r in self.registration if r not in REGISTRATION_FILTERS
        ]
        if self.subscribed_since is not None and self.subscribed_since.tzinfo is None:
            found.append("subscribed_since needs a time zone")
        return found

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: list(getattr(self, name))
            for name in ("channels", "regions", "occupations", "registration", "sources")
            if getattr(self, name)
        }
        if self.subscribed_since is not None:
            out["subscribed_since"] = self.subscribed_since.isoformat()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Audience:
        data = data or {}

        def strings(name: str, alias: str | None = None) -> tuple[str, ...]:
            value = data.get(name, data.get(alias) if alias else None)
            if value is None or value == "":
                return ()
            values = [value] if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in values if str(v).strip())

        since = data.get("subscribed_since")
        return cls(
            channels=tuple(c.lower() for c in strings("channels", "channel")),
            regions=strings("regions", "region"),
            occupations=tuple(o.lower() for o in strings("occupations", "occupation")),
            registration=tuple(r.lower() for r in strings("registration")),
            subscribed_since=datetime.fromisoformat(since) if isinstance(since, str) and since else None,
            sources=strings("sources", "source"),
        )


@dataclass(frozen=True)
class CampaignButton:
    title: str
    payload: str = REGISTER_PAYLOAD


@dataclass(frozen=True)
class CampaignDraft:
    """A campaign as composed. `template_variables` maps the template's variable numbers to text, which
    may hold per-recipient fields ({"1": "{nama}"})."""

    name: str
    text: str
    audience: Audience = field(default_factory=Audience)
    image_url: str | None = None
    button: CampaignButton | None = None
    template_sid: str | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found: list[str] = []
        if not self.name.strip():
            found.append("the campaign needs a name")
        if len(self.name) > 120:
            found.append("the name is longer than 120 characters")
        if not self.text.strip():
            found.append("the text is empty")
        if len(self.text) > MAX_TEXT:
            found.append(f"the text is longer than {MAX_TEXT} characters")
        elif len(personalize(self.text, name="x" * NAME_LIMIT, fallback="")) > MAX_PERSONAL:
            found.append(f"with a long name in every {{nama}}, the text passes {MAX_PERSONAL} characters")
        found += [f"unknown field {{{f}}} in the text" for f in unknown_fields(self.text)]
        if self.image_url is not None and not re.match(r"^https?://\S+$", self.image_url):
            found.append("the image must be an http(s) URL")
        if self.button is not None:
            if not self.button.title.strip() or len(self.button.title) > 40:
                found.append("the button title must have 1 to 40 characters")
            if not re.fullmatch(r"/[a-z_]+(\{.*\})?", self.button.payload) or len(self.button.payload) > 64:
                found.append("the button payload must look like /intent (at most 64 bytes)")
        if self.template_sid is not None and not re.fullmatch(r"HX[0-9a-fA-F]{32}", self.template_sid):
            found.append("the WhatsApp template must be a ContentSid (HX followed by 32 hex digits)")
        if self.template_variables and self.template_sid is None:
            found.append("template variables need a template")
        for key, value in self.template_variables.items():
            if not str(key).isdigit():
                found.append(f"template variable {key!r} must be a number")
            found += [f"unknown field {{{f}}} in template variable {key}" for f in unknown_fields(value)]
        return found + self.audience.problems()

    def check(self) -> CampaignDraft:
        problems = self.problems()
        if problems:
            raise CampaignInvalid(problems)
        return self

    def with_audience(self, audience: Audience) -> CampaignDraft:
        return replace(self, audience=audience)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CampaignDraft:
        """From a YAML file or an API body: name, text, image, button {title, payload} (or a title string),
        template {sid, variables}, audience {…}."""
        button = data.get("button")
        if isinstance(button, str):
            button = {"title": button}
        template = data.get("template") or {}
        if isinstance(template, str):
            template = {"sid": template}
        return cls(
            name=str(data.get("name", "")),
            text=str(data.get("text", "")),
            audience=Audience.from_json(data.get("audience")),
            image_url=data.get("image") or data.get("image_url") or None,
            button=CampaignButton(str(button["title"]), str(button.get("payload") or REGISTER_PAYLOAD))
            if button
            else None,
            template_sid=template.get("sid") or data.get("template_sid") or None,
            template_variables={
                str(k): str(v)
                for k, v in (template.get("variables") or data.get("template_variables") or {}).items()
            },
        )


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    status: str
    draft: CampaignDraft
    created_by: int | None
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    planned_at: datetime | None


def unknown_fields(text: str) -> list[str]:
    return [name for name in _FIELD.findall(text) if name.strip().lower() not in FIELDS]


def personalize(text: str, *, name: str | None, fallback: str) -> str:
    """`text` with {nama} replaced by the recipient's name, or by `fallback` (a warm generic greeting)
    when the name is not known."""
    shown = display_name(name) or fallback
    return _FIELD.sub(lambda m: shown if m.group(1).strip().lower() == "nama" else m.group(0), text)


def display_name(name: str | None, limit: int = NAME_LIMIT) -> str | None:
    """A name as a greeting shows it: each word capitalised (KTP names are often upper case), and no longer
    than `limit` (whole words kept)."""
    if not name or not name.strip():
        return None
    words = [w.capitalize() for w in name.split()]
    shown = words[0][:limit]
    for word in words[1:]:
        if len(shown) + 1 + len(word) > limit:
            break
        shown += " " + word
    return shown
