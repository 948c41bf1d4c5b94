"""How numbers, dates and months are written to users (Indonesian conventions), and the bot's local time.

Indonesian writes thousands with dots and no space after "Rp" ("Rp16.800"). Dates are day-first with the
month's name ("15 Desember 2026"). Month names come from content (labels.months) so that all user-facing
words stay in the content files; these helpers take the names as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

# Western Indonesia Time. Indonesia has no daylight saving, so a fixed offset is exact, needs no tz database,
# and keeps the engine free of I/O. Contribution months and ages are counted on this calendar.
WIB = timezone(timedelta(hours=7), "WIB")


def local_date(moment: datetime) -> date:
    """The calendar date in WIB of a timezone-aware moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the engine needs timezone-aware times")
    return moment.astimezone(WIB).date()


def rupiah(amount: int) -> str:
    """1234567 -> "Rp1.234.567" (whole rupiah; negative amounts never reach users)."""
    return "Rp" + f"{amount:,}".replace(",", ".")


def local_phone(e164: str) -> str:
    """ "+6281234567890" -> "0812-3456-7890" (how Indonesians write their own number)."""
    if not e164.startswith("+62"):
        return e164
    local = "0" + e164[3:]
    return "-".join((local[:4], local[4:8], local[8:])) if len(local) > 8 else local


def long_date(day: date, month_names: Sequence[str]) -> str:
    """date(2026, 12, 15) -> "15 Desember 2026"."""
    return f"{day.day} {month_names[day.month - 1]} {day.year}"


def month_year(day: date, month_names: Sequence[str]) -> str:
    """date(2026, 12, 1) -> "Desember 2026"."""
    return f"{month_names[day.month - 1]} {day.year}"


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after the month of `first`."""
    index = first.year * 12 + (first.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def age_on(birth: date, today: date) -> int:
    """Completed years of age on `today`."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years
