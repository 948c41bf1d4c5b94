"""`occupation`: the informal-work categories of docs/occupations.md ("ojol", "petani", "pedagang pasar").

Every non-program entry of `nlu/data/synonyms.yml` is an occupation: its value is the category and its
examples are what people type ("driver gojek" → ojol, "jualan di pasar" → pedagang pasar, "jukir" → tukang
parkir). Matching is longest-first over normalized tokens, so "kuli bangunan" is tukang bangunan, not the
"kuli" of kuli angkut; one-letter typos in longer words are tolerated (`nlu.entities.phrases`).
"""

from __future__ import annotations

from functools import cache

from nlu.entities import synonyms
from nlu.entities.candidate import Candidate
from nlu.entities.phrases import PhraseMatcher
from nlu.normalize import Normalized

__all__ = ["find", "matcher", "values"]


@cache
def matcher() -> PhraseMatcher:
    """The occupation matcher, built once from the synonym table."""
    return PhraseMatcher("occupation", synonyms.surfaces(exclude=synonyms.PROGRAMS))


def values() -> frozenset[str]:
    """Every occupation value the extractor can produce."""
    return frozenset(v for v in synonyms.table() if v not in synonyms.PROGRAMS)


def find(normalized: Normalized) -> list[Candidate]:
    """Every occupation named in the message."""
    return matcher().find(normalized)
