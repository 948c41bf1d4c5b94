"""Longest-match lookup of multi-word surface forms over normalized tokens, with cheap typo tolerance.

Both the surface forms and the message go through `nlu.normalize.normalize`, so spelling variants the
normalizer already resolves ("sy", "ojekk", "BPJS TK") need no entry of their own. On top of that a token
the lexicon does not know, of at least `MIN_FUZZY` letters, is read as the one phrase word within one edit
(insertion, deletion, substitution or swap of neighbours) of it: "nelayn" → "nelayan", "drivr" → "driver",
"kematain" → "kematian". Known words are never corrected ("tanam" stays "tanam"), and a typo with two
candidate corrections is left alone. The index is a symmetric-delete map, so a lookup costs a handful of
dict probes, not a scan of the vocabulary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from nlu import lexicon
from nlu.entities.candidate import Candidate
from nlu.normalize import Normalized, normalize

__all__ = ["MIN_FUZZY", "PhraseMatcher", "within_one_edit"]

MIN_FUZZY = 5


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


def within_one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


class PhraseMatcher:
    """Finds surface forms of one entity type in normalized text and reports their values."""

    def __init__(self, entity: str, pairs: Iterable[tuple[str, str]]) -> None:
        """`pairs` are (surface form, value); a later duplicate surface keeps the first value."""
        self.entity = entity
        self._phrases: dict[tuple[str, ...], str] = {}
        words: set[str] = set()
        for surface, value in pairs:
            key = tuple(t.text for t in normalize(surface).tokens)
            if key and key not in self._phrases:
                self._phrases[key] = value
                words.update(key)
        self._words = frozenset(words)
        self._longest = max((len(k) for k in self._phrases), default=0)
        self._index: dict[str, set[str]] = defaultdict(set)
        for word in words:
            if len(word) >= MIN_FUZZY and word.isalpha():
                for variant in _deletes(word):
                    self._index[variant].add(word)

    def correct(self, word: str) -> str:
        """The phrase word `word` is a one-edit typo of, or `word` itself (module docstring)."""
        if len(word) < MIN_FUZZY or not word.isalpha() or word in self._words:
            return word
        if word in lexicon.vocabulary() or word in lexicon.slang():
            return word
        found = {w for v in _deletes(word) for w in self._index.get(v, ()) if within_one_edit(word, w)}
        return found.pop() if len(found) == 1 else word

    def find(self, normalized: Normalized) -> list[Candidate]:
        """Every longest, non-overlapping phrase occurrence, left to right."""
        tokens = normalized.tokens
        words = [self.correct(t.text) for t in tokens]
        found = []
        i = 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                value = self._phrases.get(tuple(words[i : i + size]))
                if value is not None:
                    found.append(Candidate(self.entity, value, tokens[i].start, tokens[i + size - 1].end))
                    i += size
                    break
            else:
                i += 1
        return found
