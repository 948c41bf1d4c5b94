"""The console's Jinja2 environment: autoescaping on, and filters that show numbers, money and times the
way Indonesian staff read them (1.234, Rp16.800, 21 Nov 2026 09.00 WIB)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from bot.clock import WIB

TEMPLATES = Path(__file__).with_name("templates")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def angka(value: object) -> str:
    """1234567 -> "1.234.567" (Indonesian thousands separator)."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "–"
    return f"{number:,}".replace(",", ".")


def persen(part: object, whole: object) -> str:
    try:
        p, w = float(part), float(whole)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if w <= 0:
        return "–"
    return f"{100 * p / w:.1f}%".replace(".", ",")


def waktu(value: datetime | str | None) -> str:
    """An aware datetime (or ISO string) in WIB: "21 Nov 2026 09.00 WIB"."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(WIB) if value.tzinfo else value.replace(tzinfo=WIB)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} {local:%H.%M} WIB"


def input_waktu(value: datetime | None) -> str:
    """The value of an <input type=datetime-local>, in WIB."""
    if value is None:
        return ""
    return value.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(angka=angka, waktu=waktu, input_waktu=input_waktu)
    env.globals.update(persen=persen)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates
