"""The BPU registration form as data: its slots in the order asked, how each is read from a message, and the
buttons offered with each question.

An extractor returns the value to store (JSON-serialisable), `Invalid` when the user tried to answer and the
answer is wrong, or None when the message holds no answer of that kind at all (then it may be a question
asked mid-form: flows.registration decides).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from flows import choices, validators
from flows.choices import choose
from flows.content import Content
from flows.contribution import first_contribution_month, monthly_contribution
from flows.masking import mask_phone
from flows.message import Msg, parse_payload
from flows.replies import Button
from flows.turn import Turn
from flows.validators import Invalid
from storage.membership.base import Program

Extracted = Any  # a stored value | Invalid | None
PACKAGES: dict[str, tuple[Program, ...]] = {"jkk_jkm": ("jkk", "jkm"), "jkk_jkm_jht": ("jkk", "jkm", "jht")}
PRICE_ROUNDING = 1000  # "yg 53rb" picks the Rp53.400 package


@dataclass(frozen=True)
class Slot:
    name: str
    extract: Callable[[Turn, Msg], Extracted]
    buttons: Callable[[Turn], tuple[Button, ...]] | None = None
    free_text: bool = False  # any text could be an answer (name, city)

    @property
    def question(self) -> str:
        return f"registration.ask_{self.name}"


OTHER_JOBS = "other_jobs"  # the "Lainnya" button under a narrowed occupation list


def occupation_list(t: Turn) -> list[dict[str, str]]:
    return [dict(o) for o in t.content.data("occupations.occupations")]


def job_family(t: Turn, msg: Msg) -> str | None:
    """The family of a job word the occupation list cannot pin down ("pedagang", "driver"): a key of
    vocab.job_families; None when the message names none, or more than one."""
    words = set(msg.norm.split())
    named = [name for name, family in _family_words(t.content).items() if words & family]
    return named[0] if len(named) == 1 else None


_FAMILY_WORDS: WeakKeyDictionary[Content, dict[str, frozenset[str]]] = WeakKeyDictionary()


def _family_words(content: Content) -> dict[str, frozenset[str]]:
    """Each job family's words, built once per loaded content (job_family runs on most messages)."""
    found = _FAMILY_WORDS.get(content)
    if found is None:
        families: dict[str, dict[str, list[str]]] = content.data("vocab.job_families")
        found = {str(name): frozenset(str(w) for w in f["words"]) for name, f in families.items()}
        _FAMILY_WORDS[content] = found
    return found


def kind_named(t: Turn, msg: Msg, family: str) -> str | None:
    """The one kind of `family` whose title has a word of the message other than the family's own words
    ("dagang sayur keliling" -> "pedagang keliling"); None when no kind, or several, fit."""
    spec = t.content.data("vocab.job_families")[family]
    generic = {str(w) for w in spec["words"]} | {family}
    words = set(msg.norm.split()) - generic
    titles = {o["value"]: o["title"] for o in occupation_list(t)}
    fits = [
        str(kind)
        for kind in spec["options"]
        if words & (set(choices.normalize(titles.get(str(kind), "")).split()) - generic)
    ]
    return fits[0] if len(fits) == 1 else None


def offered_occupations(t: Turn) -> list[dict[str, str]]:
    """The occupations the question offers: the volunteered family's kinds, else the whole list."""
    family = t.data.get("job_family")
    everything = occupation_list(t)
    if not family:
        return everything
    kinds = [str(v) for v in t.content.data("vocab.job_families")[family]["options"]]
    return [o for value in kinds for o in everything if o["value"] == value]


# ---- extractors ------------------------------------------------------------------------------------------
def _full_name(t: Turn, msg: Msg) -> Extracted:
    words = t.content.words
    return validators.full_name(
        msg.text, words("vocab.name_prefixes"), words("vocab.not_name"), words("vocab.name_titles")
    )


def _other_number(msg: Msg, *kinds: str) -> bool:
    """True when the message is another kind of number ("0815 7777 8888" to the birth-date question): no
    wrong answer to this question, but maybe an answer to a later one."""
    return any(msg.value(kind) for kind in kinds)


def _nik(t: Turn, msg: Msg) -> Extracted:
    result = validators.nik(msg.text, msg.value("nik"), t.today)
    if isinstance(result, Invalid):
        if result.reason == "nik_missing" or (result.reason == "nik_length" and _other_number(msg, "phone")):
            return None
        return result
    return result.nik


def _birth_date(t: Turn, msg: Msg) -> Extracted:
    value = msg.value("date") or validators.compact_date(msg.text, t.today)
    if value is None:
        if not re.search(r"\d", msg.text) or _other_number(msg, "phone", "nik"):
            return None
        return nik_style_day(str(t.data.get("nik") or ""), msg.text) or Invalid("date_invalid")
    result = validators.birth_date(str(value), t.data.get("nik"), t.today)
    return result if isinstance(result, Invalid) else result.isoformat()


def nik_style_day(nik: str, text: str) -> Invalid | None:
    """A woman who copies the day from her NIK types 41-71 ("45-06-1990"): explain the +40 instead of a
    generic "type a full date"."""
    day = int(nik[6:8]) if len(nik) == 16 and nik[6:8].isdigit() else 0
    if day > 40 and re.search(rf"(?<!\d){day}(?!\d)", text):
        return Invalid("date_women", {"nik_day": day, "day": day - 40})
    return None


def _phone(t: Turn, msg: Msg) -> Extracted:
    if msg.choice == "own_phone" and t.ctx.phone:
        return validators.phone(t.ctx.phone, t.ctx.phone)
    entity = msg.value("phone")
    if entity is None and (not re.search(r"\d{3}", msg.text) or _other_number(msg, "nik", "date")):
        return None
    return validators.phone(msg.text, str(entity) if entity else None)


def _city(t: Turn, msg: Msg) -> Extracted:
    return validators.city(msg.text, t.content.words("vocab.city_prefixes"))


def _occupations(t: Turn, msg: Msg) -> Extracted:
    known = {o["value"] for o in occupation_list(t)}
    offered = [(b.title, b.payload) for b in _occupation_buttons(t)]  # numbers as the buttons show them
    values: list[str] = []
    if msg.choice:
        values = [msg.choice]
    else:
        picked = choices.resolve_many(msg.text, offered, limit=validators.MAX_OCCUPATIONS + 1) or []
        values = [str((parse_payload(p) or ("", {}))[1].get("value")) for p in picked]
        values = values or [str(v) for v in msg.values("occupation")]
    if OTHER_JOBS in values and t.data.get("job_family"):
        t.data.pop("job_family")  # "Lainnya": the whole list next
        return Invalid("occupation_all")
    family = None if values else job_family(t, msg)
    if family is not None:
        kind = kind_named(t, msg, family)  # "dagang sayur keliling": the word "keliling" picks the kind
        if kind is not None:
            values = [kind]
        elif family != t.data.get("job_family"):
            # "jualan sayur": not one occupation, but the kinds of pedagang are a short list to offer
            t.data["job_family"] = family
            return Invalid("ask_occupations_family", {"family": family})
    if not values:
        return Invalid("occupation_invalid") if re.fullmatch(r"[\d\s,.]+", msg.text.strip()) else None
    result = validators.occupations(values, known)
    return result if isinstance(result, Invalid) else list(result)


def _income(t: Turn, msg: Msg) -> Extracted:
    if len({str(a) for a in msg.values("amount")}) > 1 and not msg.choice:
        return Invalid("income_range")  # "kadang 1 juta kadang 3 juta": ask for the average, not the first
    amount = msg.choice if msg.choice and msg.choice.isdigit() else msg.value("amount")
    if amount is None:
        if re.fullmatch(r"\s*\d+\s*", msg.text):
            amount = int(msg.text)
        else:
            return Invalid("income_invalid") if re.search(r"\d", msg.text) else None
    return validators.income(amount, t.table.minimum_base)


def _package(t: Turn, msg: Msg) -> Extracted:
    if msg.choice in PACKAGES:
        return msg.choice
    # "jht itu apa?", "kalau tanpa jht brp?" name a program but choose nothing: the engine answers them
    asking = t.question_like()
    words = set(msg.norm.split()) | set(msg.plain.split())
    programs = {str(p) for p in msg.values("program")} | (words & {"jkk", "jkm", "jht"})
    if words & t.content.words("vocab.without") and "jht" in programs:
        return None if asking else "jkk_jkm"
    for package, phrases in t.content.data("vocab.packages").items():
        if any(re.search(rf"\b{re.escape(str(p))}\b", f"{msg.norm} / {msg.plain}") for p in phrases):
            return str(package)
    priced = _priced_package(t, msg)
    if priced is not None:
        return priced
    if asking:
        return None
    if "jht" in programs:
        return "jkk_jkm_jht"
    if programs:
        return "jkk_jkm"
    return None


def _priced_package(t: Turn, msg: Msg) -> str | None:
    """The package whose price the message names, rounded or not ("yg 53rb" for Rp53.400)."""
    amount = msg.value("amount")
    if not isinstance(amount, int) or "income" not in t.data:
        return None
    priced = [name for name, total in package_amounts(t).items() if abs(total - amount) < PRICE_ROUNDING]
    return priced[0] if len(priced) == 1 else None


def _period(t: Turn, msg: Msg) -> Extracted:
    value: Any = msg.choice
    both = f"{msg.norm} / {msg.plain}"
    if value is None:
        for phrase, months in t.content.data("vocab.period_phrases").items():
            if re.search(rf"\b{re.escape(str(phrase))}\b", both):
                value = months
                break
    if value is None:
        found = re.search(r"\b(\d{1,2})\b", both)
        if not found:
            return None
        value = found.group(1)
    return validators.period(value)


# ---- buttons ---------------------------------------------------------------------------------------------
def _phone_buttons(t: Turn) -> tuple[Button, ...]:
    if not t.ctx.phone:
        return ()
    return (t.button("registration.own_phone_button", choose("own_phone"), phone=mask_phone(t.ctx.phone)),)


def _occupation_buttons(t: Turn) -> tuple[Button, ...]:
    buttons = [Button(o["title"], choose(o["value"])) for o in offered_occupations(t)]
    if t.data.get("job_family"):
        buttons.append(t.button("registration.other_jobs_button", choose(OTHER_JOBS)))
    return tuple(buttons)


def package_amounts(t: Turn) -> dict[str, int]:
    occupations = t.data.get("occupations") or []
    month = first_contribution_month(t.today)
    return {
        name: monthly_contribution(t.data["income"], programs, occupations, month, t.table).total
        for name, programs in PACKAGES.items()
    }


def _package_buttons(t: Turn) -> tuple[Button, ...]:
    amounts = package_amounts(t)
    return tuple(
        t.button(f"registration.package_{name}_button", choose(name), amount=t.rp(amount))
        for name, amount in amounts.items()
    )


def _period_buttons(t: Turn) -> tuple[Button, ...]:
    return tuple(t.button("registration.period_button", choose(str(m)), months=m) for m in validators.PERIODS)


SLOTS: tuple[Slot, ...] = (
    Slot("full_name", _full_name, free_text=True),
    Slot("nik", _nik),
    Slot("birth_date", _birth_date),
    Slot("phone", _phone, _phone_buttons),
    Slot("city", _city, free_text=True),
    Slot("occupations", _occupations, _occupation_buttons),
    Slot("income", _income),
    Slot("package", _package, _package_buttons),
    Slot("period", _period, _period_buttons),
)
BY_NAME = {s.name: s for s in SLOTS}
