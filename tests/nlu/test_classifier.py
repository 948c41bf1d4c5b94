"""The intent classifier on its own: features, determinism, the fast path against sklearn, calibration,
saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu.classifier import (
    ClassifierConfig,
    IntentClassifier,
    char_ngrams,
    fit_temperature,
    softmax,
    train_calibrated,
    word_ngrams,
)

# Already-normalized texts, as the parser hands them over.
TEXTS = {
    "greet": ["halo", "halo kak", "p", "selamat pagi min", "assalamualaikum", "permisi min"],
    "ask_contribution": [
        "iuran berapa kalau gaji __amount__",
        "berapa iuran sebulan",
        "iuran bpu berapa ya",
        "kalau penghasilan __amount__ bayar berapa",
        "iuran per bulan berapa",
        "bayar iuran berapa untuk ojol",
    ],
    "ask_jkk": [
        "apa itu jkk",
        "kalau kecelakaan kerja dapat apa",
        "jkk menanggung apa saja",
        "kecelakaan saat kerja ditanggung tidak",
        "manfaat jkk apa",
        "jaminan kecelakaan kerja itu apa",
    ],
}
X = [t for texts in TEXTS.values() for t in texts]
Y = [label for label, texts in TEXTS.items() for _ in texts]


def test_word_ngrams_keep_single_letters() -> None:
    assert word_ngrams("p halo kak", 1, 2) == ["p", "halo", "kak", "p halo", "halo kak"]
    assert word_ngrams("", 1, 2) == []


def test_char_ngrams_pad_words_like_sklearn_char_wb() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    text = "p iuran brp __amount__ ok"
    sklearn = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False).build_analyzer()
    assert char_ngrams(text, 2, 5) == sklearn(text)
    assert char_ngrams("p", 4, 5) == [" p "]  # shorter than every n-gram: counted once, whole


def test_training_is_deterministic() -> None:
    a = train_calibrated(X, Y)
    b = train_calibrated(list(X), list(Y))
    probe = ["halo min", "iuran __amount__ berapa", "kecelakaan", "zzz"]
    assert a.labels == b.labels == sorted(TEXTS)
    assert a.temperature == b.temperature
    assert np.array_equal(a.predict_many(probe), b.predict_many(probe))


def test_predictions_are_probabilities_and_learn_the_data() -> None:
    model = IntentClassifier.train(X, Y)
    probs = model.predict_many(X)
    assert probs.shape == (len(X), 3)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert [model.labels[i] for i in probs.argmax(axis=1)] == Y
    assert model.labels[int(model.predict("kalau kecelakaan waktu kerja gimana").argmax())] == "ask_jkk"


def test_fast_single_message_path_equals_the_sklearn_model() -> None:
    from sklearn.linear_model import LogisticRegression

    model = IntentClassifier.train(X, Y, ClassifierConfig(estimator="logistic", c=5.0))
    reference = LogisticRegression(C=5.0, max_iter=2000).fit(
        model.features(X), [model.labels.index(y) for y in Y]
    )
    probe = ["iuran berapa ya kak", "apa itu jkk", "unknownword", ""]
    expected = reference.predict_proba(model.features(probe))
    got = np.array([model.predict(t) for t in probe])
    assert np.allclose(got, expected, atol=1e-9)


def test_two_intents_give_a_two_way_softmax() -> None:
    model = IntentClassifier.train(X[:12], Y[:12])
    assert model.labels == ["ask_contribution", "greet"]
    assert model.labels[int(model.predict("halo kak").argmax())] == "greet"
    assert model.predict("halo").shape == (2,)


def test_fit_temperature_recovers_the_scale_of_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2.0
    targets = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    assert fit_temperature(true_logits * 3.0, targets) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_logits, targets) == pytest.approx(1.0, rel=0.1)


def test_too_few_examples_for_folds_leaves_the_temperature_alone() -> None:
    model = train_calibrated(["halo", "iuran", "jkk"], ["greet", "ask_contribution", "ask_jkk"])
    assert model.temperature == 1.0


def test_save_and_load_give_the_same_predictions(tmp_path: Path) -> None:
    model = train_calibrated(X, Y)
    model.save(tmp_path / "m")
    loaded = IntentClassifier.load(tmp_path / "m")
    probe = ["halo min", "iuran __amount__ berapa", "apa itu jkk ya"]
    assert loaded.labels == model.labels
    assert loaded.config == model.config
    assert np.array_equal(loaded.predict_many(probe), model.predict_many(probe))
    assert all(np.array_equal(loaded.predict(t), model.predict(t)) for t in probe)


def test_batch_and_single_message_paths_agree() -> None:
    model = train_calibrated(X, Y)
    probe = [*X, ("iuran __amount__ brp", "iuran 2jt brp"), "kecelakaan kecelakaan kerja", "zzz", ""]
    assert np.allclose(model.logits_many(probe), np.array([model.logits(t) for t in probe]), atol=1e-12)
