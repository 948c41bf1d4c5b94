"""`jamsosbot demo-data`: fill a database with realistic fake members for trying the bot, through the same
import as real data."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from bot.clock import now_wib
from storage.db import Database
from storage.ops.fake_members import Sample, write_members_csv
from storage.ops.import_members import ImportReport, import_members


def load_demo_members(
    db: Database, count: int = 500, *, seed: int | None = None, samples: int = 5, today: date | None = None
) -> tuple[ImportReport, list[Sample]]:
    """Import `count` fake members; return the import report and a few of them to try the status check."""
    today = today or now_wib().date()
    seed = seed if seed is not None else int(today.strftime("%Y%m%d"))
    with tempfile.TemporaryDirectory(prefix="jamsosbot-demo-") as folder:
        path = Path(folder) / "demo_members.csv"
        picked = write_members_csv(path, count, seed=seed, today=today, samples=samples)
        report = import_members(db, path, today=today, actor="demo-data")
    return report, picked
