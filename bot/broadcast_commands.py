"""`jamsosbot broadcast …` (campaigns from the command line) and `jamsosbot worker` (the broadcast worker).

    jamsosbot broadcast create --file kampanye.yml          (or --name/--text/--image/--button/… flags)
    jamsosbot broadcast count [ID] [--channel …] [--region …]
    jamsosbot broadcast show ID [--name Budi]               the campaign and how it looks on each channel
    jamsosbot broadcast test-send ID --channel telegram --chat-id 12345
    jamsosbot broadcast schedule ID --at "2026-03-02 09:00"  (Asia/Jakarta unless the time has a zone)
    jamsosbot broadcast start ID [--watch] | pause ID | resume ID | cancel ID
    jamsosbot broadcast watch ID                             a live progress bar
    jamsosbot broadcast results ID [--json]
    jamsosbot worker [--burst]

The file for `create` is YAML with the fields of bot.broadcast.model.CampaignDraft.from_mapping:
name, text, image, button {title, payload}, template {sid, variables}, audience {channels, regions,
occupations, registration, subscribed_since, sources}. `--as USERNAME` records who did it in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.broadcast.cli_support import (
    audience_from,
    audience_options,
    counted,
    plain,
    run,
    staff_id,
    watch_progress,
    when,
)

if TYPE_CHECKING:
    from bot.broadcast.service import BroadcastService


@click.group()
def broadcast() -> None:
    """Campaign broadcasts: compose, count, test, schedule, send, watch."""


@broadcast.command()
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name")
@click.option("--text", help="The message; {nama} is the recipient's name when known.")
@click.option("--image", help="URL of an image sent with the text.")
@click.option("--button", help='Button title, e.g. "Daftar sekarang" (starts registration).')
@click.option("--button-payload", default="/register", show_default=True)
@click.option("--template", help="WhatsApp ContentSid (HX…) for recipients outside the 24-hour window.")
@click.option("--var", "variables", multiple=True, help="Template variable, e.g. 1={nama}; repeatable.")
@audience_options
@click.option("--as", "actor", help="Your staff username (for the audit log).")
def create(
    path: Path | None,
    name: str | None,
    text: str | None,
    image: str | None,
    button: str | None,
    button_payload: str,
    template: str | None,
    variables: tuple[str, ...],
    actor: str | None,
    **filters: Any,
) -> None:
    """Create a draft campaign; prints its id."""
    import yaml

    from bot.broadcast.model import CampaignButton, CampaignDraft

    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) if path else {}
    draft = CampaignDraft.from_mapping(data or {})
    overrides: dict[str, Any] = {}
    if name:
        overrides["name"] = name
    if text:
        overrides["text"] = text
    if image:
        overrides["image_url"] = image
    if button:
        overrides["button"] = CampaignButton(button, button_payload)
    if template:
        overrides["template_sid"] = template
    if variables:
        overrides["template_variables"] = dict(v.split("=", 1) for v in variables)
    if any(filters.values()):
        overrides["audience"] = audience_from(**filters)
    draft = replace(draft, **overrides)

    async def work(service: BroadcastService) -> None:
        info = await service.create(draft, actor=actor, created_by=staff_id(service, actor))
        count = await service.count_audience(info.draft.audience)
        click.echo(f"campaign {info.id} created (draft); audience now: {counted(count.by_channel)}")

    run(work)


@broadcast.command()
@click.argument("campaign_id", type=int, required=False)
@audience_options
def count(campaign_id: int | None, **filters: Any) -> None:
    """Count the audience of a campaign, or of the filters given."""

    async def work(service: BroadcastService) -> None:
        audience = (
            (await service.get(campaign_id)).draft.audience if campaign_id else audience_from(**filters)
        )
        result = await service.count_audience(audience)
        click.echo(f"{result.total} recipients ({counted(result.by_channel)})")

    run(work)


@broadcast.command()
@click.argument("campaign_id", type=int)
@click.option("--name", help="Preview {nama} with this name (default: the greeting for unknown names).")
def show(campaign_id: int, name: str | None) -> None:
    """The campaign, and how its message looks on each channel."""

    async def work(service: BroadcastService) -> None:
        info = await service.get(campaign_id)
        views = await service.preview(campaign_id, name=name)
        click.echo(
            json.dumps({"campaign": plain(info), "preview": views}, indent=2, ensure_ascii=False, default=str)
        )

    run(work)


@broadcast.command("test-send")
@click.argument("campaign_id", type=int)
@click.option("--channel", required=True, type=click.Choice(["telegram", "whatsapp"]))
@click.option("--chat-id", required=True, help="Your own chat id (Telegram) or number (+62…, WhatsApp).")
@click.option("--name", help="The name to put in {nama}.")
@click.option("--as", "actor")
def test_send(campaign_id: int, channel: str, chat_id: str, name: str | None, actor: str | None) -> None:
    """Send the campaign's message to one chat now."""

    async def work(service: BroadcastService) -> str:
        return await service.test_send(campaign_id, channel=channel, chat_id=chat_id, name=name, actor=actor)

    click.echo(f"sent (message id {run(work)})")


@broadcast.command()
@click.argument("campaign_id", type=int)
@click.option("--at", "at", required=True, help='When, e.g. "2026-03-02 09:00" (WIB unless a zone is given).')
@click.option("--as", "actor")
def schedule(campaign_id: int, at: str, actor: str | None) -> None:
    """Start the campaign at a later time (quiet hours still hold)."""

    async def work(service: BroadcastService) -> None:
        info = await service.schedule(campaign_id, when(at), actor=actor)
        click.echo(f"campaign {campaign_id} scheduled for {info.scheduled_at}")

    run(work)


def _lifecycle(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text)
    @click.argument("campaign_id", type=int)
    @click.option("--as", "actor")
    @click.option("--watch", is_flag=True, help="Then show a live progress bar.")
    def command(campaign_id: int, actor: str | None, watch: bool) -> None:
        async def work(service: BroadcastService) -> None:
            info = await getattr(service, action)(campaign_id, actor=actor)
            click.echo(f"campaign {campaign_id} is now {info.status}")
            if service.queue is None and info.status == "running":
                click.echo("note: REDIS_URL is not set, so no worker can send it (run `jamsosbot worker`)")
            if watch:
                await watch_progress(service, campaign_id)

        run(work)

    return command


for _action, _help in (
    ("start", "Start sending now (planning runs in the workers)."),
    ("pause", "Stop sending; what is in flight is recorded."),
    ("resume", "Continue a paused campaign."),
    ("cancel", "Stop for good; unsent deliveries are skipped."),
):
    broadcast.add_command(_lifecycle(_action, _help))


@broadcast.command()
@click.argument("campaign_id", type=int)
def watch(campaign_id: int) -> None:
    """A live progress bar until the campaign finishes, is paused or cancelled (Ctrl-C leaves it running)."""

    async def work(service: BroadcastService) -> None:
        await watch_progress(service, campaign_id)

    try:
        run(work)
    except KeyboardInterrupt:
        click.echo("(still running in the workers)")


@broadcast.command()
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def results(campaign_id: int, as_json: bool) -> None:
    """What the campaign achieved: sent, delivered, failed by reason, opt-outs and registrations after it."""

    async def work(service: BroadcastService) -> None:
        found = await service.results(campaign_id)
        data = asdict(found)
        data["progress"]["sent"] = found.progress.sent
        if as_json:
            click.echo(json.dumps(data, indent=2, default=str))
            return
        p = found.progress
        click.echo(f"campaign {campaign_id} [{p.status}]: {p.total} recipients")
        click.echo(f"  sent {p.sent} (delivered {p.counts['delivered']}, read {p.counts['read']})")
        click.echo(f"  failed {p.counts['failed']}: {found.failed_by_reason or '-'}")
        click.echo(f"  skipped {p.counts['skipped']}: {found.skipped_by_reason or '-'}")
        click.echo(f"  pending {p.counts['pending'] + p.counts['claimed']}")
        click.echo(f"  opted out after it: {found.opted_out_after}")
        click.echo(
            f"  registrations after it: {found.registrations_started_after} started, "
            f"{found.registrations_submitted_after} submitted"
        )

    run(work)


@broadcast.command("retry-in-doubt")
@click.argument("campaign_id", type=int)
@click.option("--as", "actor")
def retry_in_doubt(campaign_id: int, actor: str | None) -> None:
    """Send again the deliveries left in doubt by a crashed worker (they may arrive twice)."""

    async def work(service: BroadcastService) -> int:
        return await service.retry_in_doubt(campaign_id, actor=actor)

    click.echo(f"{run(work)} deliveries queued again")


@click.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty (for scripts and tests).")
def worker(burst: bool) -> None:
    """The broadcast worker (arq): plans and sends campaigns. Run as many as needed."""
    from bot.broadcast.config import load_broadcast_config
    from bot.broadcast.worker import run_worker
    from bot.settings import load_settings

    try:
        run_worker(load_settings(), load_broadcast_config(), burst=burst)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


commands = [broadcast, worker]
