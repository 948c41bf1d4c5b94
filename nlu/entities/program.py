"""`program`: the five BPJS Ketenagakerjaan programs, from their codes and names.

jkk (jaminan kecelakaan kerja), jkm (jaminan kematian), jht (jaminan hari tua), jp (jaminan pensiun),
jkp (jaminan kehilangan pekerjaan). Surface forms come from `nlu/data/synonyms.yml` ("pensiun" → jp,
"kecelakaan kerja" → jkk, "kematian" → jkm, "kehilangan pekerjaan" → jkp).
"""

from __future__ import annotations

from functools import cache

from nlu.entities import synonyms
from nlu.entities.candidate import Candidate
from nlu.entities.phrases import PhraseMatcher
from nlu.normalize import Normalized

__all__ = ["find", "matcher"]


@cache
def matcher() -> PhraseMatcher:
    """The program matcher, built once from the synonym table."""
    return PhraseMatcher("program", synonyms.surfaces(synonyms.PROGRAMS))


def find(normalized: Normalized) -> list[Candidate]:
    """Every program named in the message."""
    return matcher().find(normalized)
