"""Helpers of `jamsosbot broadcast` (bot/broadcast_commands.py): the audience flags, times in WIB, running
a service call from a command, and the live progress bar."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bot.broadcast.model import Audience
    from bot.broadcast.progress import Progress
    from bot.broadcast.service import BroadcastService

T = TypeVar("T")
FINAL = ("finished", "cancelled")

_filters = [
    click.option("--channel", "channels", multiple=True, type=click.Choice(["telegram", "whatsapp"])),
    click.option("--region", "regions", multiple=True, help="Region (case-insensitive); repeat for several."),
    click.option(
        "--occupation", "occupations", multiple=True, help="Occupation category (docs/occupations.md)."
    ),
    click.option(
        "--registration",
        multiple=True,
        help="none, started, submitted, awaiting_payment, active or rejected.",
    ),
    click.option("--since", "subscribed_since", help="Subscribed on or after this date (YYYY-MM-DD, WIB)."),
    click.option("--source", "sources", multiple=True, help="Where they subscribed (opt-in source)."),
]


def audience_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_filters):
        f = option(f)
    return f


def audience_from(
    channels: tuple[str, ...],
    regions: tuple[str, ...],
    occupations: tuple[str, ...],
    registration: tuple[str, ...],
    subscribed_since: str | None,
    sources: tuple[str, ...],
) -> Audience:
    from bot.broadcast.model import Audience

    return Audience(
        channels=channels,
        regions=regions,
        occupations=tuple(o.lower() for o in occupations),
        registration=tuple(r.lower() for r in registration),
        subscribed_since=when(subscribed_since) if subscribed_since else None,
        sources=sources,
    )


def when(text: str) -> datetime:
    from bot.broadcast.config import load_broadcast_config

    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=load_broadcast_config().zone)


def run(work: Callable[[BroadcastService], Awaitable[T]]) -> T:
    """Open the database and the service, run `work`, close; BroadcastError becomes a clean CLI error."""
    from bot.broadcast.model import BroadcastError, CampaignInvalid
    from bot.broadcast.service import BroadcastService
    from bot.settings import load_settings
    from storage.db import open_database

    settings = load_settings()
    db = open_database(settings)

    async def main() -> T:
        service = await BroadcastService.open(settings, db)
        try:
            return await work(service)
        finally:
            await service.aclose()

    try:
        return asyncio.run(main())
    except CampaignInvalid as exc:
        raise click.ClickException(
            "the campaign cannot be sent as it is:\n- " + "\n- ".join(exc.problems)
        ) from exc
    except BroadcastError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()


def staff_id(service: BroadcastService, username: str | None) -> int | None:
    if username is None:
        return None
    from sqlalchemy import select

    from storage.models import StaffAccount

    with service.db.session() as session:
        return session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


async def watch_progress(service: BroadcastService, campaign_id: int, every: float = 0.5) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns) as bar:
        task = bar.add_task(f"campaign {campaign_id}", total=None, detail="")
        while True:
            now = await service.progress(campaign_id)
            counts = now.counts
            detail = f"sent {now.sent} failed {counts['failed']} skipped {counts['skipped']} [{now.status}]"
            bar.update(task, total=now.total if now.planned else None, completed=now.settled, detail=detail)
            if now.status in FINAL or now.status == "paused" or (now.planned and now.settled == now.total):
                return now
            await asyncio.sleep(every)


def counted(by_channel: dict[str, int]) -> str:
    return ", ".join(f"{channel} {n}" for channel, n in sorted(by_channel.items())) or "nobody"


def plain(info: Any) -> dict[str, Any]:
    data = asdict(info)
    data["draft"]["audience"] = info.draft.audience.to_json()
    return data
