"""Normalize informal Indonesian chat text into tokens that keep their offsets into the original text.

`normalize("Gmn cr daftar BPJS TK??")` gives the tokens "bagaimana", "cara", "daftar",
"bpjs ketenagakerjaan", "?" with `start`/`end` pointing at "Gmn", "cr", "daftar", "BPJS TK", "??".

What it does, in order:

1. Case and width: every character is NFKC-normalized and lower-cased (`fold`).
2. Tokenizing: numbers keep their inner separators ("3.200.000", "1,5"); words keep inner hyphens and
   apostrophes ("kira-kira", "jum'at"); every other non-space character is its own token, with a run of the
   same one ("???") folded into one. "bisa2" is the reduplication "bisa-bisa"; "b4" / "2x" stay whole when
   the lexicon knows them; a unit glued to a number ("2jt") is split off.
3. Stretched letters: "haloooo" → "halo", "siapp" → "siap", but "maaf", "saat", "tt" stay; a doubled or
   longer run is shortened only to a spelling the lexicon knows (see `_deelongate`).
4. Slang and abbreviations from `nlu.lexicon` ("gmn" → "bagaimana", "gk" → "tidak"), domain entries first.
5. Domain phrases ("bpjs tk" → "bpjs ketenagakerjaan") become one token spanning all their words.

Number words ("dua juta") are left as words: the amount extractor reads them. Stopwords are not removed.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from nlu import lexicon

__all__ = ["Normalized", "Token", "fold", "normalize", "normalize_word"]


@dataclass(frozen=True)
class Token:
    """One normalized token.

    `text` is the normalized form (lower-case, slang expanded; may be several words, e.g. "terima kasih");
    `start`/`end` are character offsets of the source token in the ORIGINAL text.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Normalized:
    """The original text, its tokens, and `text`, which is always `" ".join(t.text for t in tokens)`."""

    original: str
    text: str
    tokens: tuple[Token, ...]


_LETTER = r"(?:[^\W\d_][\u0300-\u036f]*)"
_PIECE = re.compile(
    rf"(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>{_LETTER}+(?:['’\-]{_LETTER}+)*)"
    rf"|(?P<other>([^\w\s])\4*|_+)"
)
_RUN = re.compile(r"([^\W\d_])\1+")
_LONGEST_PHRASE = max(len(k) for k in lexicon.PHRASES)
_MAX_RUNS = 5  # beyond this many letter runs the candidate search is not worth it: collapse directly


def fold(text: str) -> str:
    """Lower-case and NFKC-normalize `text` character by character, keeping its length.

    A character whose NFKC form or lower case is longer than one character (a ligature, "İ") is kept
    as it is, so every index into the result is a valid index into `text`: regex-based extractors scan
    the folded text and report offsets into the original.
    """
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        if len(folded) != 1:
            folded = ch.lower() if len(ch.lower()) == 1 else ch
        out.append(folded)
    return "".join(out)


def _known(word: str, slang: Mapping[str, str], vocab: frozenset[str]) -> bool:
    return word in slang or word in vocab


def _deelongate(word: str, slang: Mapping[str, str], vocab: frozenset[str]) -> str:
    """Shorten letter runs ("haloooo", "siapp") to a spelling the lexicon knows.

    Each run may become two letters or one; the candidates closest to what was typed are tried first,
    and the first known one wins ("maaaaf" → "maaf", "haloooo" → "halo"). When nothing is known, runs of
    three or more become one letter and doubles stay, so an unknown word with a real double ("tt") is
    left alone.
    """
    runs = list(_RUN.finditer(word))
    if not runs:
        return word
    if len(runs) <= _MAX_RUNS:
        for lengths in itertools.product((2, 1), repeat=len(runs)):
            candidate = _rebuild(word, runs, lengths)
            if candidate != word and _known(candidate, slang, vocab):
                return candidate
    return _rebuild(word, runs, tuple(2 if len(r.group(0)) == 2 else 1 for r in runs))


def _rebuild(word: str, runs: list[re.Match[str]], lengths: tuple[int, ...]) -> str:
    parts, last = [], 0
    for run, length in zip(runs, lengths, strict=True):
        parts.append(word[last : run.start()])
        parts.append(run.group(1) * min(length, len(run.group(0))))
        last = run.end()
    parts.append(word[last:])
    return "".join(parts)


def _base(word: str) -> str:
    """The lower-case, de-elongated spelling of one word, before slang is applied."""
    slang, vocab = lexicon.slang(), lexicon.vocabulary()
    if _known(word, slang, vocab):
        return word
    return _deelongate(word, slang, vocab)


def normalize_word(word: str) -> str:
    """Normalize one lower-case word (no spaces): de-elongate, then apply the slang lexicon."""
    base = _base(word)
    return lexicon.slang().get(base, base)


@dataclass(frozen=True)
class _Piece:
    kind: str  # "num", "word" or "other"
    surface: str  # folded surface text
    start: int
    end: int


def _pieces(folded: str) -> list[_Piece]:
    pieces = []
    for m in _PIECE.finditer(folded):
        kind = m.lastgroup if m.lastgroup in ("num", "word") else "other"
        pieces.append(_Piece(kind, m.group(0), m.start(), m.end()))
    return _merge_glued(pieces)


def _merge_glued(pieces: list[_Piece]) -> list[_Piece]:
    """Join a letter piece and a digit piece typed without a space when together they are one word:
    the reduplication "bisa2" and lexicon entries such as "b4", "t4", "2x"."""
    slang = lexicon.slang()
    out: list[_Piece] = []
    i = 0
    while i < len(pieces):
        a = pieces[i]
        b = pieces[i + 1] if i + 1 < len(pieces) else None
        if b is not None and a.end == b.start and {a.kind, b.kind} == {"word", "num"}:
            joined = a.surface + b.surface
            if joined in slang or (a.kind == "word" and b.surface == "2" and len(a.surface) > 1):
                out.append(_Piece("word", joined, a.start, b.end))
                i += 2
                continue
        out.append(a)
        i += 1
    return out


def _word_tokens(piece: _Piece, original: str) -> list[tuple[str, str, int, int]]:
    """(base, normalized text, start, end) for one word piece; a hyphenated word may yield several."""
    surface = piece.surface
    if not surface.isascii():
        # NFKC on the whole word composes combining marks that the per-character fold left apart
        surface = unicodedata.normalize("NFKC", original[piece.start : piece.end]).lower()
    slang = lexicon.slang()
    if surface in slang or surface in lexicon.vocabulary():
        return [(surface, slang.get(surface, surface), piece.start, piece.end)]
    if surface.endswith("2") and not surface[:-1].endswith("2"):
        word = normalize_word(surface[:-1])
        return [(surface, f"{word}-{word}", piece.start, piece.end)]
    parts = re.split(r"(['’\-])", surface)
    if len(parts) == 1:
        base = _base(surface)
        return [(base, slang.get(base, base), piece.start, piece.end)]
    words = parts[::2]
    if len(set(words)) == 1:  # "kira-kira", "pagi-pagi": one reduplicated word
        word = normalize_word(words[0])
        return [(surface, "-".join([word] * len(words)), piece.start, piece.end)]
    if "-" not in parts:  # "jum'at" -> "jumat" when the lexicon knows it
        joined = "".join(words)
        base = _base(joined)
        return [(base, slang.get(base, base), piece.start, piece.end)]
    out, pos = [], piece.start
    if len(surface) != piece.end - piece.start:  # composed characters: offsets no longer line up
        return [(surface, surface, piece.start, piece.end)]
    for part in parts:
        end = pos + len(part)
        if part in "'’-":
            out.append((part, part, pos, end))
        else:
            base = _base(part)
            out.append((base, slang.get(base, base), pos, end))
        pos = end
    return out


def _apply_phrases(items: list[tuple[str, str, int, int]]) -> list[Token]:
    """Fold multi-word domain phrases (on the typed spelling, so "bp" is not first read as "bapak")."""
    tokens: list[Token] = []
    longest = _LONGEST_PHRASE
    i = 0
    while i < len(items):
        for size in range(min(longest, len(items) - i), 1, -1):
            key = tuple(item[0] for item in items[i : i + size])
            phrase = lexicon.PHRASES.get(key)
            if phrase is not None:
                tokens.append(Token(phrase, items[i][2], items[i + size - 1][3]))
                i += size
                break
        else:
            tokens.append(Token(items[i][1], items[i][2], items[i][3]))
            i += 1
    return tokens


def normalize(text: str) -> Normalized:
    """Normalize `text` (see the module docstring). Never raises on any string; empty text has no tokens."""
    folded = fold(text)
    items: list[tuple[str, str, int, int]] = []
    for piece in _pieces(folded):
        if piece.kind == "word":
            items.extend(_word_tokens(piece, text))
        elif piece.kind == "num":
            items.append((piece.surface, piece.surface, piece.start, piece.end))
        else:
            items.append((piece.surface, piece.surface[0], piece.start, piece.end))
    tokens = tuple(_apply_phrases(items))
    return Normalized(original=text, text=" ".join(t.text for t in tokens), tokens=tokens)
