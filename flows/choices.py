"""The one place that maps what a user typed back to one of the buttons the bot offered last.

"2", "no 2", "nomor 2.", the button's title ("Cek status", "cek status", a small typo "cek stauts"), a
unique part of it ("status") or the payload itself all resolve to the same payload. Channels that cannot show
buttons render them as a numbered list (bot/render.py), so the numbers here are 1-based positions.

Deliberately conservative: a sentence (more than a few words) is never taken for a choice, digits must match
exactly ("4 bulan" never becomes "6 bulan"), and an answer that fits two buttons equally well fits none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from difflib import SequenceMatcher

Offered = Sequence[Sequence[str]]  # [(title, payload), ...] as kept in the state

_INDEX = re.compile(r"^(?:no|nomor|nmr|nomer|pilih|pilihan|angka|opsi)?\s*(\d{1,2})$")
_SPLIT = re.compile(r"\s*(?:,|/|&|\+|\bdan\b|\bsama\b|\batau\b)\s*")
MAX_CHOICE_WORDS = 5
WORD_SIMILARITY = 0.8
TITLE_SIMILARITY = 0.85


def choose(value: str) -> str:
    """The payload of a button that answers the question just asked: `/choose{"value": ...}`."""
    return "/choose" + json.dumps({"value": value}, separators=(",", ":"), ensure_ascii=False)


def normalize(text: str) -> str:
    """Lower case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).replace("_", " ").split())


def resolve(text: str, offered: Offered) -> str | None:
    """The payload of the offered button `text` designates, or None."""
    if not offered:
        return None
    raw = text.strip()
    for _, payload in offered:
        if raw == payload:
            return payload
    norm = normalize(raw)
    if not norm:
        return None
    index = _INDEX.match(norm)
    if index:
        i = int(index.group(1))
        if 1 <= i <= len(offered):
            return offered[i - 1][1]
        # "6" with five buttons: the button whose title starts with that number ("6 bulan").
        return _unique([p for t, p in offered if normalize(t).split()[:1] == [index.group(1)]])
    titles = [(normalize(t), p) for t, p in offered]
    exact = _unique([p for t, p in titles if t == norm])
    if exact or len(norm.split()) > MAX_CHOICE_WORDS:
        return exact
    words = norm.split()
    part = _unique([p for t, p in titles if all(_word_in(w, t.split()) for w in words)])
    if part:
        return part
    scored = sorted(((_similar(norm, t), p) for t, p in titles if _digits(t) == _digits(norm)), reverse=True)
    if not scored or scored[0][0] < TITLE_SIMILARITY:
        return None
    clear_winner = len(scored) == 1 or scored[0][0] - scored[1][0] >= 0.1
    return scored[0][1] if clear_winner else None


def resolve_many(text: str, offered: Offered, limit: int) -> list[str] | None:
    """Several choices in one answer ("1, 5", "1 dan 5", "ojol dan kurir"): the payloads in order, without
    repeats, or None when any part is not a choice or there are more than `limit`."""
    whole = resolve(text, offered)
    if whole is not None:
        return [whole]
    parts = [p for p in _SPLIT.split(text.strip()) if p.strip()]
    if len(parts) == 1 and re.fullmatch(r"\d{1,2}(\s+\d{1,2})+", parts[0].strip()):
        parts = parts[0].split()  # "1 5"
    found: list[str] = []
    for part in parts:
        payload = resolve(part, offered)
        if payload is None:
            return None
        if payload not in found:
            found.append(payload)
    if not found or len(found) > limit:
        return None
    return found


def _unique(payloads: list[str]) -> str | None:
    distinct = set(payloads)
    return payloads[0] if len(distinct) == 1 else None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def _word_in(word: str, title_words: list[str]) -> bool:
    """Exact for short words and anything with digits; a small typo allowed in longer words."""
    if word in title_words:
        return True
    if len(word) < 4 or any(ch.isdigit() for ch in word):
        return False
    return any(len(t) >= 4 and _similar(word, t) >= WORD_SIMILARITY for t in title_words)
