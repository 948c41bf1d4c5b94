"""Derive word pairs and a formal vocabulary from the STIF parallel corpus (run once, output committed).

STIF (haryoa/stif-indonesia, MIT) holds line-aligned informal → formal customer-service tweets. We align
each sentence pair with `difflib` and count one-to-one word replacements; a pair is kept when it was seen at
least `MIN_COUNT` times and accounts for at least `MIN_SHARE` of all occurrences of the informal word (so a
word that is usually left alone, such as "min", is not rewritten). The formal side also gives a vocabulary
of known Indonesian words, which the normalizer uses to decide whether a doubled letter is legitimate.

Usage::

    python -m nlu.lexicon.build_stif /path/to/shared/data/normalization/stif

writes `stif_pairs.tsv` and `stif_vocab.txt` next to this file.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

MIN_COUNT = 2
MIN_SHARE = 0.6
_WORD = re.compile(r"^[a-z]+(?:-[a-z]+)*$")
_HERE = Path(__file__).parent


def _lines(folder: Path, suffix: str) -> list[list[str]]:
    out: list[list[str]] = []
    for split in ("train", "dev", "test"):
        text = (folder / f"{split}.{suffix}").read_text(encoding="utf-8")
        out.extend(line.lower().split() for line in text.splitlines())
    return out


def learn(folder: Path) -> tuple[dict[str, str], set[str]]:
    """Return (informal → formal pairs, formal vocabulary) learned from the corpus in `folder`."""
    informal, formal = _lines(folder, "inf"), _lines(folder, "for")
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    seen: Counter[str] = Counter()
    vocab: set[str] = set()
    for inf, form in zip(informal, formal, strict=True):
        vocab.update(w for w in form if _WORD.match(w))
        seen.update(w for w in inf if _WORD.match(w))
        matcher = difflib.SequenceMatcher(None, inf, form, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op != "replace":
                continue
            if i2 - i1 == j2 - j1:
                for a, b in zip(inf[i1:i2], form[j1:j2], strict=True):
                    if _WORD.match(a) and _WORD.match(b):
                        pairs[a][b] += 1
            elif i2 - i1 == 1 and 1 < j2 - j1 <= 3:
                # one abbreviation spelled out as several words ("dll" -> "dan lain-lain")
                words = form[j1:j2]
                if _WORD.match(inf[i1]) and all(_WORD.match(w) for w in words):
                    pairs[inf[i1]][" ".join(words)] += 1
    kept: dict[str, str] = {}
    for word, targets in pairs.items():
        target, count = targets.most_common(1)[0]
        if count >= MIN_COUNT and count / max(seen[word], 1) >= MIN_SHARE and target != word:
            kept[word] = target
    return kept, vocab


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    pairs, vocab = learn(Path(argv[0]))
    header = "# informal\tformal  (derived from STIF, MIT; see ATTRIBUTION.txt)\n"
    body = "".join(f"{k}\t{v}\n" for k, v in sorted(pairs.items()))
    (_HERE / "stif_pairs.tsv").write_text(header + body, encoding="utf-8")
    (_HERE / "stif_vocab.txt").write_text("".join(f"{w}\n" for w in sorted(vocab)), encoding="utf-8")
    print(f"{len(pairs)} pairs, {len(vocab)} vocabulary words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
