"""Answers the user gives before the form asks for them: values volunteered in passing ("sy pedagang mau
daftar, nik 3201..."), several at once ("nama sy Budi Santoso nik 3201... lahir 17-08-1990"), one meant for
a later question ("2 jt" to the occupation question), and the job told earlier in the chat."""

from __future__ import annotations

import re
from typing import Any

from flows import validators
from flows.message import Msg
from flows.registration_slots import job_family, kind_named
from flows.turn import Turn
from flows.validators import Invalid

DATA = ("vocab.field_words", "vocab.period_cues")


def harvest(t: Turn, msg: Msg, into: dict[str, Any] | None = None) -> None:
    """Fill empty slots from the message's entities, silently keeping only valid values (into `into`, a
    copy of the draft, instead of the draft itself when given)."""
    d, today = (t.data if into is None else into), t.today
    candidates: dict[str, object] = {}
    if msg.value("nik"):
        candidates["nik"] = validators.nik("", str(msg.value("nik")), today)
    if msg.value("phone"):
        candidates["phone"] = validators.phone("", str(msg.value("phone")))
    if msg.values("occupation"):
        known = {o["value"] for o in t.content.data("occupations.occupations")}
        candidates["occupations"] = validators.occupations([str(v) for v in msg.values("occupation")], known)
    if len({str(a) for a in msg.values("amount")}) == 1:
        candidates["income"] = validators.income(msg.value("amount"), t.table.minimum_base)
    for name, value in candidates.items():
        if name not in d and not isinstance(value, Invalid):
            stored = getattr(value, "nik", value)
            d[name] = list(stored) if isinstance(stored, tuple) else stored
    if "occupations" not in d and not msg.values("occupation") and "job_family" not in d:
        family = job_family(t, msg)  # "sy pedagang mau daftar": only the kinds of pedagang are offered
        kind = kind_named(t, msg, family) if family else None  # "pedagang bakso keliling": that kind
        if kind:
            d["occupations"] = [kind]
        elif family:
            d["job_family"] = family
    _package_and_period(t, msg, d)
    if "city" not in d and t.step != "city":
        city = _city_told(t, msg)  # "sy tinggal di bogor, kerja ojol"
        if city is not None:
            d["city"] = city
    if msg.value("date") and "birth_date" not in d:
        born = validators.birth_date(str(msg.value("date")), d.get("nik"), today)
        if not isinstance(born, Invalid):
            d["birth_date"] = born.isoformat()


def _package_and_period(t: Turn, msg: Msg, d: dict[str, Any]) -> None:
    """ "mau daftar yg ada jht, bayar 3 bulan": the package from a JHT mention (with or without it) and the
    period from "bayar/sekaligus ... N bulan" - never from other words, which mean other things in passing
    ("nama lengkap", "sudah 3 bulan jadi ojol"). Cheap tests first: this runs on every form answer."""
    norm = set(msg.norm.split())
    jht = "jht" in norm or "jht" in {str(p) for p in msg.values("program")}
    months_said = re.search(r"bulan|bln|tahun|taun|thn", msg.norm) is not None
    cue = bool(norm & t.content.words("vocab.period_cues"))
    want_package, want_period = "package" not in d and jht, "period" not in d and months_said and cue
    if not (want_package or want_period) or t.question_like():
        return
    if want_package:
        words = norm | set(msg.plain.split())
        d["package"] = "jkk_jkm" if words & t.content.words("vocab.without") else "jkk_jkm_jht"
    if want_period:
        found = re.search(r"\b(\d{1,2}) (?:bulan|bln)\b", msg.plain) or re.search(r"\b(setahun) ", msg.plain)
        months = validators.period(12 if found and found[1] == "setahun" else found[1]) if found else None
        if months is not None and not isinstance(months, Invalid):
            d["period"] = months


def _city_told(t: Turn, msg: Msg) -> str | None:
    """The city after "tinggal di" / "domisili", up to a comma or a word that starts another answer."""
    found = re.search(r"\b(?:tinggal di|domisili di|domisili)\s+([^,;:\d]+)", msg.text, flags=re.I)
    if not found:
        return None
    kept: list[str] = []
    for word in found[1].split():
        if word.lower() in t.content.words("vocab.field_words") or word.lower() in t.content.words(
            "vocab.not_name"
        ):
            break
        kept.append(word)
    city = validators.city(" ".join(kept), frozenset())
    return None if isinstance(city, Invalid) else city


def early_values(t: Turn) -> set[str]:
    """The slots the message would fill beyond the one asked (nothing is stored)."""
    draft = dict(t.data)
    harvest(t, t.msg, into=draft)
    return set(draft) - set(t.data) - {t.step, "job_family"}


def restates(t: Turn) -> bool:
    """True when the message repeats an answer the form already has ("sopir" after "sy sopir mau daftar")."""
    found: dict[str, Any] = {}
    harvest(t, t.msg, into=found)
    return any(t.data.get(name) == value for name, value in found.items())


def harvested(t: Turn) -> bool:
    """Fill later slots from a message that does not answer the current one; True when one was filled."""
    before = set(t.data)
    harvest(t, t.msg)
    return bool(set(t.data) - before)


def name_before_values(t: Turn) -> str | Invalid:
    """The name in "nama sy Budi Santoso nik 3201... lahir ...": the text before the first number or word
    that introduces another answer."""
    words = t.content.words
    cut = re.search(r"\d", t.msg.text)
    text = t.msg.text[: cut.start()] if cut else t.msg.text
    kept: list[str] = []
    for word in text.split():
        if word.lower().strip(",.:;") in words("vocab.field_words"):
            break
        kept.append(word)
    return validators.full_name(
        " ".join(kept), words("vocab.name_prefixes"), words("vocab.not_name"), words("vocab.name_titles")
    )


def recall(t: Turn) -> None:
    """The job the user told earlier in the chat ("sy ojol, iuran brp?") is not asked again (the summary
    shows it, and "ubah pekerjaan" changes it); a job word narrows the occupation question."""
    known, d = t.known, t.data
    if "occupations" not in d and "job_family" not in d:
        if known.get("occupations"):
            d["occupations"] = list(known["occupations"])
        elif known.get("job_family"):
            d["job_family"] = known["job_family"]
