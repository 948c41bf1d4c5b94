"""The normalization lexicon: informal word → normalized form, and a vocabulary of known words.

Sources, lowest priority first (a later source overrides an earlier one for the same word):

1. `stif_pairs.tsv`: pairs learned from the STIF parallel corpus (`build_stif.py`);
2. `indocollex_informal_to_formal_*.csv`: IndoCollex word pairs labelled by transformation;
3. `louisowen6_slang.json`: Louis Owen's combined slang list;
4. `indocollex_informal_formal.tsv`: the IndoCollex informal → formal dictionary;
5. `domain.tsv`: the project's own entries, which always win.

Public entries listed in `rejected.tsv` are dropped: they are wrong for this domain (e.g. "pkl" → "pukul",
"bang" → "ngab") or would destroy a word the NLU needs. Every value is lower-case and may hold several words
("dll" → "dan lain-lain"). Files are read once, on first use.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

_HERE = Path(__file__).parent
_KEY = re.compile(r"^[^\W_]+(?:['’-][^\W_]+)*$")
_DIGIT = re.compile(r"\d")

# Multi-token phrases folded into one normalized token (first words → (rest, normalized form)).
# Why here and not in domain.tsv: the tokenizer splits on spaces, so these need a sequence match.
PHRASES: Mapping[tuple[str, ...], str] = MappingProxyType(
    {
        ("bpjs", "tk"): "bpjs ketenagakerjaan",
        ("bpjs", "naker"): "bpjs ketenagakerjaan",
        ("bpjs", "tenaga", "kerja"): "bpjs ketenagakerjaan",
        ("bp", "jamsostek"): "bpjs ketenagakerjaan",
        ("bpjs", "kes"): "bpjs kesehatan",
        # regional thanks, so the classifier sees one form
        ("matur", "nuwun"): "terima kasih",
        ("matur", "suwun"): "terima kasih",
        ("hatur", "nuhun"): "terima kasih",
    }
)


def _clean(key: str, value: str) -> tuple[str, str] | None:
    """Lower-case and vet one public entry; None when it cannot be a single-token rule."""
    key, value = key.strip().lower(), " ".join(value.strip().lower().split())
    if not key or not value or key == value or not _KEY.match(key):
        return None
    # "0kmh" -> "0 kmh" style entries only split units off numbers; the tokenizer does that itself
    if _DIGIT.search(value):
        return None
    return key, value


def _read_tsv(name: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for line in (_HERE / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition("\t")
        rows.append((key, value))
    return rows


def _read_indocollex_pairs() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for split in ("train", "dev", "test"):
        with (_HERE / f"indocollex_informal_to_formal_{split}.csv").open(encoding="utf-8") as f:
            rows.extend((r["transformed"], r["original-for"]) for r in csv.DictReader(f))
    return rows


def _read_indocollex_dictionary() -> list[tuple[str, str]]:
    with (_HERE / "indocollex_informal_formal.tsv").open(encoding="utf-8") as f:
        return [(r["informal"], r["formal"]) for r in csv.DictReader(f, delimiter="\t")]


def _read_louisowen6() -> list[tuple[str, str]]:
    data: dict[str, str] = json.loads((_HERE / "louisowen6_slang.json").read_text(encoding="utf-8"))
    return list(data.items())


def public_sources() -> list[tuple[str, list[tuple[str, str]]]]:
    """The public lists as (name, raw rows), lowest priority first (also used by the lexicon audit test)."""
    return [
        ("stif", _read_tsv("stif_pairs.tsv")),
        ("indocollex_pairs", _read_indocollex_pairs()),
        ("louisowen6", _read_louisowen6()),
        ("indocollex", _read_indocollex_dictionary()),
    ]


@cache
def rejected() -> frozenset[str]:
    """Informal words whose public mappings are refused (first column of `rejected.tsv`)."""
    return frozenset(k.strip().lower() for k, _ in _read_tsv("rejected.tsv"))


@cache
def domain() -> Mapping[str, str]:
    """The project's own entries (`domain.tsv`), including words mapped to themselves."""
    return MappingProxyType({k.strip().lower(): v.strip().lower() for k, v in _read_tsv("domain.tsv")})


@cache
def slang() -> Mapping[str, str]:
    """Informal token → normalized form, merged from every source (see the module docstring)."""
    merged: dict[str, str] = {}
    refused = rejected()
    for _name, rows in public_sources():
        for key, value in rows:
            cleaned = _clean(key, value)
            if cleaned and cleaned[0] not in refused:
                merged[cleaned[0]] = cleaned[1]
    own = domain()
    for key, value in merged.items():
        # a public entry that lands on a word the domain rewrites follows the domain ("yaa" -> "ya" -> "iya")
        if value in own and own[value] != value:
            merged[key] = own[value]
    for key, value in own.items():
        if key == value:
            merged.pop(key, None)  # protected: stays as typed
        else:
            merged[key] = value
    return MappingProxyType(merged)


@cache
def vocabulary() -> frozenset[str]:
    """Words known to be spelled as intended: the formal STIF vocabulary, every normalized form's words,
    and the domain's protected words. Used to tell "maaf" (real double) from "siapp" (stretched)."""
    words = set(_HERE.joinpath("stif_vocab.txt").read_text(encoding="utf-8").split())
    for value in slang().values():
        words.update(value.split())
    words.update(domain().keys())
    return frozenset(words)
