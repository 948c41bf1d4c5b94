"""The synonym table `nlu/data/synonyms.yml`: the single source for surface text → `program` and
`occupation` values, shared with Rasa's EntitySynonymMapper (Rasa 3.x `- synonym:` entries)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

import yaml

__all__ = ["PROGRAMS", "SYNONYMS_FILE", "surfaces", "table"]

SYNONYMS_FILE = Path(__file__).resolve().parent.parent / "data" / "synonyms.yml"
PROGRAMS: tuple[str, ...] = ("jkk", "jkm", "jht", "jp", "jkp")


@cache
def table() -> Mapping[str, tuple[str, ...]]:
    """value → its surface forms as written in the file (lower case), in file order."""
    data = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8"))
    out: dict[str, tuple[str, ...]] = {}
    for item in data.get("nlu", []):
        if "synonym" not in item:
            continue
        value = str(item["synonym"]).strip().lower()
        lines = str(item.get("examples", "")).splitlines()
        forms = tuple(ln.strip()[2:].strip().lower() for ln in lines if ln.strip().startswith("- "))
        out[value] = out.get(value, ()) + forms
    return MappingProxyType(out)


def surfaces(
    values: tuple[str, ...] | None = None, *, exclude: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(surface, value) pairs, each value also standing for itself; limited to `values` when given."""
    pairs = []
    for value, forms in table().items():
        if (values is not None and value not in values) or value in exclude:
            continue
        pairs.append((value, value))
        pairs.extend((form, value) for form in forms)
    return pairs
