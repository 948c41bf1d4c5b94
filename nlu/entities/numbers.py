"""Indonesian numbers, in digits or words: "3.200.000", "1,5", "dua ratus lima puluh ribu", "sejuta setengah".

Digits follow Indonesian conventions: a dot separates thousands and a comma is the decimal mark
("Rp 3.200.000", "1,5 jt"). Chat text bends them, so `parse_digits` decides from the shape:

* dots between groups of exactly three digits are thousands ("3.200.000"); a single dot before any other
  number of digits is a decimal point ("3.5 jt" is 3,5 juta);
* a single comma is a decimal mark ("1,5", "315,00"), except before exactly three digits with no scale
  word after it ("1,500" alone is 1.500; "1,500 jt" is 1,5 juta);
* several commas between three-digit groups ("1,500,000") are thousands, English style.

`read_number` reads one number from a token sequence: digits or words, with the scales belas, puluh, ratus,
ribu, juta, miliar and triliun, the "se-" forms (sepuluh, seratus, seribu, sejuta), "setengah" (a half: "dua
setengah juta", "setengah juta", "sejuta setengah"), "koma" ("satu koma lima juta") and "k" after digits
("100k"). After juta or more, a tail under a thousand counts thousands, the way prices are said ("1jt 500"
and "dua juta lima ratus" are 1.500.000 and 2.500.000), while a digit under 100 ends the number ("2 juta 3
anak"). Deciding whether a number is an amount of money is the amount extractor's job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from nlu.normalize import fold, normalize

__all__ = ["BIG_SCALES", "NumberSpan", "is_digits", "parse_digits", "parse_numeral", "read_number"]

_DIGITS = re.compile(r"^[0-9]+(?:[.,][0-9]+)*$")
_THOUSANDS_DOT = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+$")
_THOUSANDS_COMMA = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+$")
_ID_FULL = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+$")  # 1.000.000,50
_EN_FULL = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+$")  # 1,000,000.50

UNITS: dict[str, int] = {
    "nol": 0,
    "kosong": 0,
    "satu": 1,
    "dua": 2,
    "tiga": 3,
    "empat": 4,
    "lima": 5,
    "enam": 6,
    "tujuh": 7,
    "delapan": 8,
    "sembilan": 9,
}
_SE_SMALL: dict[str, int] = {"sepuluh": 10, "sebelas": 11, "seratus": 100}
_SMALL_SCALES = {"puluh": 10, "ratus": 100}
BIG_SCALES: dict[str, int] = {
    "ribu": 1_000,
    "juta": 1_000_000,
    "jutaan": 1_000_000,
    "jtan": 1_000_000,
    "miliar": 1_000_000_000,
    "triliun": 1_000_000_000_000,
}
_SE_BIG: dict[str, int] = {"seribu": 1_000, "sejuta": 1_000_000, "semiliar": 1_000_000_000}
_HALF = Decimal("0.5")


def is_digits(token: str) -> bool:
    """True for a number token as the normalizer keeps it: ASCII digits with inner dots or commas."""
    return bool(_DIGITS.match(token))


def parse_digits(text: str, *, scaled: bool = False) -> Decimal | None:
    """The value of a digit string with Indonesian separators (module docstring), or None if malformed.

    `scaled` tells whether a scale word follows ("1,500 jt"), which turns "1,500" into a decimal.
    """
    if not _DIGITS.match(text):
        return None
    try:
        if "." not in text and "," not in text:
            return Decimal(text)
        if _THOUSANDS_DOT.match(text):
            return Decimal(text.replace(".", ""))
        if _ID_FULL.match(text):
            return Decimal(text.replace(".", "").replace(",", "."))
        if _EN_FULL.match(text):
            return Decimal(text.replace(",", ""))
        if text.count(",") == 1 and "." not in text:
            whole, frac = text.split(",")
            if len(frac) == 3 and not scaled:
                return Decimal(whole + frac)
            return Decimal(f"{whole}.{frac}")
        if _THOUSANDS_COMMA.match(text):
            return Decimal(text.replace(",", ""))
        if text.count(".") == 1 and "," not in text:
            return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regexes above only let valid numbers through
        return None
    return None


@dataclass(frozen=True)
class NumberSpan:
    """A number read from tokens[first..last] (inclusive)."""

    value: Decimal
    first: int
    last: int
    scaled: bool  # a scale of a thousand or more was used (ribu, juta, k, sejuta, ...)
    digits: bool  # at least one digit token took part


def _big_scale(token: str, surface: str, after_digits: bool) -> int | None:
    if token in BIG_SCALES:
        return BIG_SCALES[token]
    if after_digits and surface == "k":  # "100k"; the lexicon reads a lone "k" as "ke"
        return 1_000
    return None


def read_number(tokens: Sequence[str], surfaces: Sequence[str], i: int) -> NumberSpan | None:
    """Read the longest number starting at tokens[i], or None when none starts there.

    `tokens` are normalized token texts and `surfaces` the same tokens as typed (lower-cased); the
    surface is needed for "k", which the slang lexicon reads as "ke".
    """
    total, group = Decimal(0), Decimal(0)
    unit: Decimal | None = None
    last_big: int | None = None
    scaled = digits = prev_digits = False
    j, last = i, -1
    while j < len(tokens):
        token, surface = tokens[j], surfaces[j]
        scale = _big_scale(token, surface, prev_digits)
        prev_digits = False
        if is_digits(token):
            if unit is not None:
                break
            if (
                last_big is not None
                and last_big >= 1_000_000
                and not group
                and _small_tail(tokens, surfaces, j)
            ):
                break  # "2 juta 3 anak": the 3 counts children, not rupiah
            nxt = j + 1 < len(tokens) and _big_scale(tokens[j + 1], surfaces[j + 1], True) is not None
            value = parse_digits(token, scaled=nxt)
            if value is None:
                break
            unit, digits, prev_digits = value, True, True
        elif token in UNITS:
            if unit is not None:
                break
            unit = Decimal(UNITS[token])
        elif token == "setengah":
            if unit is not None and unit == unit.to_integral_value():
                unit += _HALF
            elif last_big is not None and unit is None and group == 0:
                total += last_big * _HALF
                last_big = None
            elif last < 0:
                unit = _HALF
            else:
                break
        elif token in _SE_SMALL:
            if unit is not None:
                break
            group += _SE_SMALL[token]
        elif token == "belas" or token in _SMALL_SCALES:
            if unit is None:
                break
            group += unit + 10 if token == "belas" else unit * _SMALL_SCALES[token]
            unit = None
        elif scale is not None or token in _SE_BIG:
            if token in _SE_BIG:
                if unit is not None or group:
                    break
                group, scale = Decimal(1), _SE_BIG[token]
            elif unit is None and group == 0:
                break
            assert scale is not None
            if last_big is not None and scale >= last_big:
                break
            total += (group + (unit or 0)) * scale
            group, unit, last_big, scaled = Decimal(0), None, scale, True
        elif token == "koma" and unit is not None and j + 1 < len(tokens):
            frac = _fraction(tokens, j + 1)
            if frac is None:
                break
            fraction, j = frac
            unit += fraction
        else:
            break
        last = j
        j += 1
    if last < 0:
        return None
    tail = group + (unit or 0)
    if last_big is not None and last_big >= 1_000_000 and 0 < tail < 1000:
        # "1jt 500", "dua juta lima ratus": said the way prices are, the tail counts thousands of the unit
        tail *= last_big // 1000
    return NumberSpan(total + tail, i, last, scaled, digits)


def _small_tail(tokens: Sequence[str], surfaces: Sequence[str], j: int) -> bool:
    """True when tokens[j] is a digit token under 100 that no scale word follows."""
    value = parse_digits(tokens[j])
    if value is None or value >= 100:
        return False
    return not (j + 1 < len(tokens) and _big_scale(tokens[j + 1], surfaces[j + 1], True) is not None)


def _fraction(tokens: Sequence[str], j: int) -> tuple[Decimal, int] | None:
    """Digits after "koma", as words ("lima", "dua lima") or one digit token; (fraction, last index)."""
    if tokens[j].isdigit():
        return Decimal("0." + tokens[j]), j
    out = ""
    while j < len(tokens) and tokens[j] in UNITS:
        out += str(UNITS[tokens[j]])
        j += 1
    return (Decimal("0." + out), j - 1) if out else None


def parse_numeral(text: str) -> Decimal | None:
    """The number that makes up all of `text` ("tiga puluh tiga", "1.200.000", "100k"), else None."""
    normalized = normalize(text)
    folded = fold(text)
    tokens = [t.text for t in normalized.tokens]
    surfaces = [folded[t.start : t.end] for t in normalized.tokens]
    span = read_number(tokens, surfaces, 0) if tokens else None
    if span is None or span.last != len(tokens) - 1:
        return None
    return span.value
