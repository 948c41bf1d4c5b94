"""The built-in model, trained on nlu/data, reaches at least 90% top-1 accuracy on the held-out set
tests/data/nlu_test.yml (written separately from the training data; never used to tune the model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import training_data
from nlu.evaluate import evaluate
from nlu.parser import BuiltinNLU

HELD_OUT = Path(__file__).resolve().parents[1] / "data" / "nlu_test.yml"


def test_held_out_accuracy(tmp_path_factory: pytest.TempPathFactory) -> None:
    nlu = BuiltinNLU(cache_dir=tmp_path_factory.getbasetemp() / "nlu-cache")
    examples = training_data.load(HELD_OUT).examples
    assert len({e.intent for e in examples}) == 27
    report = evaluate(nlu.parse, examples, nlu.threshold, nlu.margin)
    print(f"held-out: accuracy {report['accuracy']}, macro-F1 {report['macro_f1']}, n={report['examples']}")
    assert report["accuracy"] >= 0.90, report["confusion"][:10]
    assert report["macro_f1"] >= 0.88
