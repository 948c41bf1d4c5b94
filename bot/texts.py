"""The channel layer's own user-facing texts, loaded once from bot/texts.yml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_FILE = Path(__file__).with_name("texts.yml")
REQUIRED = ("numbered_hint", "busy", "trouble", "delayed", "unreceived", "non_text", "too_long")


@cache
def texts() -> dict[str, str]:
    data = yaml.safe_load(_FILE.read_text(encoding="utf-8"))
    missing = [k for k in REQUIRED if not isinstance(data.get(k), str)]
    if missing:
        raise ValueError(f"bot/texts.yml lacks {missing}")
    return {k: str(v) for k, v in data.items()}


def text(key: str) -> str:
    return texts()[key]
