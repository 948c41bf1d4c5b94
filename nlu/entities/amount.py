"""Amounts of money → integer rupiah: "2 juta", "1,5jt", "800rb", "Rp 3.200.000", "dua setengah juta".

Numbers are read by `nlu.entities.numbers.read_number` over the normalized tokens (so "jt", "rb" and "rp"
arrive as "juta", "ribu" and "rupiah"). A number is an amount when

* it carries a rupiah mark before or after it ("Rp 20", "rp1.000.000,-", "IDR33000", "20 rupiah"), or
* it uses a scale of a thousand or more ("2 juta", "800rb", "100k", "sejuta", "dua ratus ribu"), or
* it is written in digits alone, is at least 1.000, has no leading zero, has at most 10 digits, and is not
  year-like (a plain 1900-2100 counts as an amount only right after a money word such as "gaji").

Never an amount: a number next to a foreign currency ("$10", "20 euro"); a bare number after a word that
says what it is ("tahun 2024", "no 12345", "umur 45"); a bare or scaled number before a counting word
("2 orang anak", "dua juta orang"); number words without a scale ("dua", "tiga puluh"). Suffixes that belong
to the amount are part of its span: "2jt-an", "Rp 1.000.000,-". Values are rounded half up to whole rupiah.
NIK, phone, KPJ and date spans win over amounts in the combiner, so their digit groups never surface here.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from nlu.entities.candidate import Candidate
from nlu.entities.numbers import is_digits, read_number
from nlu.normalize import Normalized, Token

__all__ = ["MAX_AMOUNT", "find"]

# A thousand trillion rupiah: no income or contribution comes near it, and longer digit strings ("9" * 40
# after "Rp") are noise that would overflow the decimal arithmetic of the contribution tables.
MAX_AMOUNT = 10**15


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_RUPIAH = _words("rp rupiah idr")
_FOREIGN = _words(
    "$ € £ ¥ usd eur gbp jpy sgd myr dolar dollar dolars dollars euro euros pound poundsterling sterling "
    "yen ringgit"
)
# words before a bare number that say it is not money
_NOT_MONEY_BEFORE = _words(
    "tahun umur usia nomor no kpj nik hp wa whatsapp telepon kode pin rt rw ke pukul jam lahir ktp kk npwp "
    "rekening va angka tanggal ukuran lantai kamar blok"
)
# counting words after a number that say it is not money
_NOT_MONEY_AFTER = _words(
    "orang anak tahun bulan hari minggu jam menit detik kali x kg km meter cm persen % ekor buah unit lembar "
    "jiwa peserta pekerja anggota karyawan penduduk warga tahunan"
)
# money words that make a year-like bare number an amount ("gaji 2000")
_MONEY_CUES = _words(
    "gaji penghasilan pendapatan upah income omzet omset iuran bayar membayar harga biaya uang duit sebesar "
    "transfer"
)


def _is_rupiah(token: str, surface: str) -> bool:
    return token in _RUPIAH or surface in _RUPIAH


def find(normalized: Normalized, folded: str) -> list[Candidate]:
    """Every amount of money among `normalized`'s tokens; `folded` is `fold(normalized.original)`."""
    toks = normalized.tokens
    texts = [t.text for t in toks]
    surfaces = [folded[t.start : t.end] for t in toks]
    found: list[Candidate] = []
    i = 0
    while i < len(toks):
        first, k, currency = i, i, False
        if _is_rupiah(texts[i], surfaces[i]):
            currency, k = True, i + 1
            if k < len(toks) and texts[k] == "." and toks[k].start == toks[i].end:
                k += 1  # "Rp. 315,00"
            if k >= len(toks):
                break
        span = read_number(texts, surfaces, k)
        if span is None:
            i += 1
            continue
        last = _suffix_end(toks, texts, span.last)
        if last + 1 < len(toks) and _is_rupiah(texts[last + 1], surfaces[last + 1]):
            currency, last = True, last + 1  # "20 rupiah", "20Rp"
        before = texts[first - 1] if first > 0 else ""
        after = texts[last + 1] if last + 1 < len(toks) else ""
        if before in _FOREIGN or after in _FOREIGN or surfaces[first - 1 : first] == ["$"]:
            i = last + 1
            continue
        # to_integral_value, not quantize: quantize raises past 28 significant digits ("9" * 40 juta)
        value = int(span.value.to_integral_value(rounding=ROUND_HALF_UP))
        if 0 < value <= MAX_AMOUNT and _is_amount(
            span.value, currency, span.scaled, texts, span.first, span.last, before, after
        ):
            found.append(Candidate("amount", value, toks[first].start, toks[last].end))
        i = last + 1
    return found


def _suffix_end(toks: Sequence[Token], texts: list[str], last: int) -> int:
    """Index of the last token of the amount, taking in a glued ",-" or "-an" ("1.000.000,-", "2jt-an")."""
    glued = (
        last + 2 < len(toks)
        and (texts[last + 1], texts[last + 2]) in ((",", "-"), ("-", "an"))
        and toks[last].end == toks[last + 1].start
        and toks[last + 1].end == toks[last + 2].start
    )
    return last + 2 if glued else last


def _is_amount(
    value: Decimal,
    currency: bool,
    scaled: bool,
    texts: list[str],
    first: int,
    last: int,
    before: str,
    after: str,
) -> bool:
    if currency:
        return True
    if after in _NOT_MONEY_AFTER:
        return False
    if scaled:
        return True
    if first != last or not is_digits(texts[first]):
        return False  # number words without a scale: "dua", "tiga puluh"
    typed = texts[first]
    plain = typed.replace(".", "").replace(",", "")
    if typed.startswith("0") or len(plain) > 10 or value < 1000 or value != value.to_integral_value():
        return False
    if before in _NOT_MONEY_BEFORE:
        return False
    year_like = typed.isdigit() and len(typed) == 4 and 1900 <= value <= 2100
    return not year_like or before in _MONEY_CUES
