"""Running a campaign in the test process: plan it, then run sender slices until every channel is done."""

from __future__ import annotations

import secrets

from bot.broadcast.jobs import WorkerApp, finish_if_complete
from bot.broadcast.model import CHANNELS
from bot.broadcast.sending import SliceEnd
from bot.broadcast.settling import Holder


def holder() -> Holder:
    return Holder(token=f"test:{secrets.token_hex(4)}")


async def drain(
    app: WorkerApp, campaign_id: int, *, channels: tuple[str, ...] = CHANNELS, rounds: int = 50
) -> list[SliceEnd]:
    """Plan (if needed) and send until no channel has work left or the campaign stops; the slice ends."""
    await app.planner.plan(campaign_id)
    ends: list[SliceEnd] = []
    for channel in channels:
        for _ in range(rounds):
            end = await app.engine.run_slice(campaign_id, channel, holder())
            ends.append(end)
            if end.kind != "again":
                break
    await finish_if_complete(app.engine, campaign_id)
    return ends
