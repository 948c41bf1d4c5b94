"""Evaluation of intent classification: a test file, or k-fold cross-validation over the training data.

The report (a JSON-ready dict) holds at least `accuracy`, `macro_f1` and `per_intent`
(precision / recall / f1 / support), as contract §4 asks, plus:
- `errors`: every misclassified message with its gold and predicted intent and the confidence;
- `confusion`: (gold, predicted, count) pairs of the errors, most frequent first;
- `calibration`: expected calibration error and mean confidence of right and wrong answers;
- `thresholds`: accuracy and out-of-scope rate for a range of thresholds at the given margin, from the same
  rankings (the model is not run again), to choose `NLU_THRESHOLD`;
- `ambiguous`: how many answers the margin flags, and how accurate flagged and unflagged answers are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nlu.parser import DEFAULT_MARGIN, DEFAULT_THRESHOLD, OUT_OF_SCOPE, BuiltinNLU, decide, prepare
from nlu.training_data import Example

SWEEP = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def _ranking(parse: dict[str, Any]) -> list[tuple[str, float]]:
    return [(r["name"], float(r["confidence"])) for r in parse.get("intent_ranking") or []]


def report(
    examples: Sequence[Example],
    parses: Sequence[dict[str, Any]],
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """The evaluation report of `parses` (contract §3 dicts) against the examples' gold intents.

    The decision (threshold, margin) is re-applied to each parse's `intent_ranking`, so the report does not
    depend on the thresholds the parser itself was built with.
    """
    gold = [e.intent for e in examples]
    rankings = [_ranking(p) for p in parses]
    decided = [decide(r, threshold, margin) for r in rankings]
    predicted = [intent["name"] for intent, _ in decided]
    out = _scores(gold, predicted)
    out.update(threshold=threshold, margin=margin)
    out["errors"] = [
        {"text": e.text, "intent": g, "predicted": p, "confidence": round(float(intent["confidence"]), 4)}
        for e, g, p, (intent, _) in zip(examples, gold, predicted, decided, strict=True)
        if g != p
    ]
    pairs = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    out["confusion"] = [{"intent": g, "predicted": p, "count": n} for (g, p), n in pairs.most_common()]
    top = [r[0] if r else (OUT_OF_SCOPE, 0.0) for r in rankings]
    out["calibration"] = _calibration(
        [name == g for (name, _), g in zip(top, gold, strict=True)], [conf for _, conf in top]
    )
    out["thresholds"] = [
        {
            "threshold": t,
            "accuracy": round(_accuracy(gold, [decide(r, t, margin)[0]["name"] for r in rankings]), 4),
            "out_of_scope_rate": round(sum(1 for (n, c) in top if c < t or n == OUT_OF_SCOPE) / len(gold), 4),
        }
        for t in SWEEP
    ]
    flagged = [fb["ambiguous"] for _, fb in decided]
    right = [g == p for g, p in zip(gold, predicted, strict=True)]
    out["ambiguous"] = {
        "count": sum(flagged),
        "accuracy_flagged": _mean([r for r, f in zip(right, flagged, strict=True) if f]),
        "accuracy_unflagged": _mean([r for r, f in zip(right, flagged, strict=True) if not f]),
    }
    return out


def _accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(len(gold), 1)


def _mean(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    labels = sorted(set(gold) | set(predicted))
    per_intent: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(g == label for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": n_gold,
        }
    # Macro-F1 over the intents of the gold set: an intent that is only ever predicted is still counted
    # in the precision of the others, but is not an extra zero in the average.
    gold_labels = sorted(set(gold))
    macro = sum(float(per_intent[g]["f1"]) for g in gold_labels) / max(len(gold_labels), 1)
    return {
        "examples": len(gold),
        "accuracy": round(_accuracy(gold, predicted), 4),
        "macro_f1": round(macro, 4),
        "per_intent": per_intent,
    }


def _calibration(correct: Sequence[bool], confidence: Sequence[float], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins (lower is better calibrated)."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    ece = 0.0
    for lo in np.linspace(0.0, 1.0, bins, endpoint=False):
        mask = (conf > lo) & (conf <= lo + 1.0 / bins)
        if mask.any():
            ece += mask.mean() * abs(hits[mask].mean() - conf[mask].mean())
    return {
        "ece": round(float(ece), 4),
        "mean_confidence_right": _round_mean(conf[hits == 1]),
        "mean_confidence_wrong": _round_mean(conf[hits == 0]),
    }


def _round_mean(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 4) if values.size else None


def evaluate(
    parse: Callable[[str], dict[str, Any]],
    examples: Sequence[Example],
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """Parse every example's text with `parse` (any backend) and report."""
    return report(examples, [parse(e.text) for e in examples], threshold, margin)


def cross_validate(
    examples: Sequence[Example],
    folds: int = 5,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the built-in model: every example is predicted once, by a
    model trained (and calibrated) without it. Deterministic for a given `seed`."""
    from sklearn.model_selection import StratifiedKFold

    from nlu.classifier import train_calibrated

    prepared = [prepare(e.text) for e in examples]  # once: normalization does not depend on the fold
    labels = [e.intent for e in examples]
    parses: list[dict[str, Any]] = [{} for _ in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
        model = train_calibrated([prepared[i][0] for i in train_idx], [labels[i] for i in train_idx])
        nlu = BuiltinNLU(classifier=model, threshold=threshold, margin=margin)
        for i in test_idx:
            message, entities = prepared[i]
            parses[i] = nlu.parse_prepared(examples[i].text, message, entities)
    out = report(examples, parses, threshold, margin)
    out["folds"] = folds
    return out
