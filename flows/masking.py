"""Masks for personal values shown back to users: enough to recognise one's own data, not enough to learn
someone else's. A full NIK is never echoed (the status check must not confirm a NIK to a stranger, and chat
screens are often shared or read over a shoulder)."""

from __future__ import annotations


def mask_nik(nik: str) -> str:
    """ "3201014506900003" -> "3201********0003": the region part and the last four digits stay."""
    digits = "".join(ch for ch in nik if ch.isdigit())
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def mask_kpj(kpj: str) -> str:
    """ "21034567890" -> "210*****890"."""
    digits = "".join(ch for ch in kpj if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 6) + digits[-3:]


def mask_word(word: str) -> str:
    """ "Budi" -> "B**i", "Santoso" -> "S*****o", "Al" -> "A*", "A" -> "A"."""
    if len(word) <= 1:
        return word
    if len(word) == 2:
        return word[0] + "*"
    return word[0] + "*" * (len(word) - 2) + word[-1]


def mask_name(name: str) -> str:
    """ "Budi Santoso" -> "B**i S*****o": the first and last letter of each word."""
    return " ".join(mask_word(w) for w in name.split())


def mask_phone(phone: str) -> str:
    """ "+6281234567890" -> "+62812****7890"."""
    if len(phone) < 10:
        return phone[:3] + "*" * max(0, len(phone) - 3)
    return phone[:6] + "*" * (len(phone) - 10) + phone[-4:]
