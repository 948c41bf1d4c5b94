"""The `NLU` facade and the built-in backend: text in, the Rasa parse JSON of contract §3 out.

    nlu = NLU.from_settings(settings)      # NLU_BACKEND=builtin (default) or rasa
    nlu.parse("iuran brp klo gaji 2jt")
    # {"text": ..., "intent": {"name": "ask_contribution", "confidence": 0.97},
    #  "entities": [{"entity": "amount", "value": 2000000, "start": 19, "end": 22, ...}],
    #  "intent_ranking": [...top 10, best first...],
    #  "fallback": {"low_confidence": false, "ambiguous": false, "threshold": 0.15, "margin": 0.1}}

The built-in pipeline: Rasa-style payload (`/intent{"entity": "value"}`) → `nlu.normalize.normalize` →
`nlu.entities.extract` → the normalized text with number-like entities replaced by their type
(`iuran berapa kalau gaji __amount__`), plus the raw text → `IntentClassifier` → the out-of-scope decision.

The out-of-scope decision (see `decide`). `out_of_scope` is a trained intent, and the model itself sends
most gibberish and off-topic chat there. On top of that, a top confidence below `threshold` makes the
intent `out_of_scope` (`fallback.low_confidence`); `intent_ranking` keeps the model's own choices, so a flow
can offer them as buttons. 5-fold cross-validation over nlu/data: accuracy only falls as the threshold
rises (0.905 at 0.15, 0.903 at 0.3, 0.890 at 0.5), so the default 0.15 is low: it catches messages with
no evidence for anything (e.g. "jjjjjj", where the top of 27 intents has ~0.1) and costs nothing. A top
choice less than `margin` ahead of the second is kept but flagged `fallback.ambiguous` (cross-validated:
53% of flagged answers are right against 92% of the others), for flows that ask a clarifying question.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nlu import training_data
from nlu.classifier import IntentClassifier, train_calibrated
from nlu.entities import extract
from nlu.model_cache import ModelCache, code_files, default_cache_dir, fingerprint
from nlu.normalize import Normalized, fold, normalize

if TYPE_CHECKING:
    from bot.settings import Settings

DATA_DIR = Path(__file__).resolve().parent / "data"
OUT_OF_SCOPE = "out_of_scope"
RANKING_SIZE = 10
# Tuned by `python -m nlu evaluate --folds 5` over nlu/data (see the module docstring).
DEFAULT_THRESHOLD = 0.15
DEFAULT_MARGIN = 0.1
# Entities whose surface carries no intent, only a number: the classifier sees their type instead, so
# "gaji 2jt" and "gaji 3,5 juta" look alike.
PLACEHOLDER_ENTITIES = frozenset({"nik", "kpj", "phone", "date", "amount"})
# Programs and occupations stay words (which program is the intent), and their type is added as a tag, so
# an occupation the training data never named still reads as one. 5-fold CV over three seeds: +0.1 to
# +0.4 points of accuracy and a lower log-loss every time.
TAGGED_ENTITIES = frozenset({"program", "occupation"})

_NO_EVIDENCE = string.punctuation + string.whitespace
# Rasa's RegexMessageHandler: "/intent", "/intent@0.8", "/intent{"entity": "value"}".
_PAYLOAD = re.compile(r"^/(?P<intent>[^{@\s]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.*\})?$", re.DOTALL)


class Backend(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


def parse_payload(text: str, known: Collection[str] = ()) -> dict[str, Any] | None:
    """The parse of a button payload such as `/choose{"value": "jkk_jkm"}`, or None for ordinary text.

    As in Rasa: the intent with confidence 1.0 (or the `@confidence` given), each JSON key an entity (a
    list value gives one entity per item) spanning the JSON part; JSON that does not parse gives none.
    Unlike Rasa, a bare `/name` without JSON is a payload only when `name` is in `known`: otherwise it is
    a chat command such as Telegram's `/start`, which users type and the classifier has learned.
    """
    match = _PAYLOAD.match(text.strip())
    if match is None or (match.group("entities") is None and match.group("intent") not in known):
        return None
    name = match.group("intent")
    confidence = 1.0
    if match.group("confidence"):
        try:
            confidence = min(max(float(match.group("confidence")[1:]), 0.0), 1.0)
        except ValueError:
            confidence = 1.0
    entities: list[dict[str, Any]] = []
    if match.group("entities"):
        try:
            values = json.loads(match.group("entities"))
        except json.JSONDecodeError:
            values = {}
        start, end = match.span("entities")
        offset = len(text) - len(text.lstrip())
        for entity, raw in values.items() if isinstance(values, dict) else ():
            for value in raw if isinstance(raw, list) else [raw]:
                entities.append(
                    {
                        "entity": entity,
                        "value": value,
                        "start": start + offset,
                        "end": end + offset,
                        "extractor": "RegexMessageHandler",
                    }
                )
    intent = {"name": name, "confidence": confidence}
    return {
        "text": text,
        "intent": intent,
        "entities": entities,
        "intent_ranking": [dict(intent)],
    }


def classifier_text(normalized: Normalized, entities: Sequence[dict[str, Any]]) -> str:
    """The normalized text with each number-like entity's tokens replaced by one `__type__` token, then a
    `__type__` tag for each program and occupation: "gaji __amount__ saya ojol __occupation__"."""
    spans = [(e["start"], e["end"], e["entity"]) for e in entities if e["entity"] in PLACEHOLDER_ENTITIES]
    words: list[str] = []
    previous: tuple[int, int, str] | None = None
    for token in normalized.tokens:
        span = next((s for s in spans if token.start < s[1] and token.end > s[0]), None)
        if span is None:
            words.append(token.text)
        elif span is not previous:
            words.append(f"__{span[2]}__")
        previous = span
    words += [f"__{e['entity']}__" for e in entities if e["entity"] in TAGGED_ENTITIES]
    return " ".join(words)


def decide(
    ranking: Sequence[tuple[str, float]], threshold: float, margin: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The intent to report for a ranking (best first), and the `fallback` details."""
    top_name, top = ranking[0] if ranking else (OUT_OF_SCOPE, 0.0)
    second = ranking[1][1] if len(ranking) > 1 else 0.0
    low = top < threshold
    fallback = {
        "low_confidence": low,
        "ambiguous": (top - second) < margin,
        "threshold": threshold,
        "margin": margin,
    }
    if low:
        # As Rasa's FallbackClassifier: the fallback intent carries the threshold as its confidence.
        return {"name": OUT_OF_SCOPE, "confidence": threshold}, fallback
    return {"name": top_name, "confidence": top}, fallback


class BuiltinNLU:
    """The built-in model, trained from `data_paths` on first use and cached on disk. Thread-safe."""

    def __init__(
        self,
        data_paths: Sequence[Path] = (DATA_DIR,),
        cache_dir: Path | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        classifier: IntentClassifier | None = None,
    ) -> None:
        self.data_paths = tuple(data_paths)
        self.cache = ModelCache(default_cache_dir(cache_dir))
        self.threshold = threshold
        self.margin = margin
        self._classifier = classifier
        self._lock = threading.Lock()
        self.last_load_from_cache: bool | None = None

    @property
    def classifier(self) -> IntentClassifier:
        """The trained classifier, loading or training it on first access."""
        model = self._classifier
        if model is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._load_or_train()
                model = self._classifier
        return model

    def cache_key(self) -> str:
        return fingerprint([*training_data.data_files(*self.data_paths), *code_files()])

    def _load_or_train(self) -> IntentClassifier:
        model, hit = self.cache.get_or_train(self.cache_key(), self._train)
        self.last_load_from_cache = hit
        return model

    def _train(self) -> IntentClassifier:
        return train_examples(training_data.load(*self.data_paths).examples)

    def train(self, force: bool = False) -> IntentClassifier:
        """Load the cached model or train one now (what `python -m nlu train` does); `force` trains
        even when the cache holds a current model, and replaces it."""
        with self._lock:
            if force:
                self._classifier = self._train()
                self.cache.store(self.cache_key(), self._classifier)
                self.last_load_from_cache = False
            else:
                self._classifier = self._load_or_train()
            return self._classifier

    def parse(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text, self.classifier.labels)
        if payload is not None:
            # a button press is never low-confidence or ambiguous: the bot offered exactly this
            payload["fallback"] = {
                "low_confidence": False,
                "ambiguous": False,
                "threshold": self.threshold,
                "margin": self.margin,
            }
            return payload
        message, entities = prepare(text)
        return self.parse_prepared(text, message, entities)

    def parse_prepared(
        self, text: str, message: tuple[str, str], entities: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """`parse` after `prepare`: classify the prepared message and build the parse dict."""
        if message[0].strip(_NO_EVIDENCE):
            model = self.classifier
            probs = model.predict(message)
            ranking = [(model.labels[i], float(probs[i])) for i in probs.argsort()[::-1][:RANKING_SIZE]]
        else:
            # Nothing but punctuation: no evidence for any intent. (Emoji are evidence: 👍 affirms.)
            ranking = [(OUT_OF_SCOPE, 1.0)]
        intent, fallback = decide(ranking, self.threshold, self.margin)
        return {
            "text": text,
            "intent": intent,
            "entities": entities,
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
            "fallback": fallback,
        }


def prepare(text: str) -> tuple[tuple[str, str], list[dict[str, Any]]]:
    """The classifier's input for `text` (the classifier text and the folded raw text), and its entities."""
    normalized = normalize(text)
    entities = extract(text, normalized)
    return (classifier_text(normalized, entities), fold(text)), entities


def train_examples(examples: Sequence[training_data.Example]) -> IntentClassifier:
    """Train the built-in classifier on examples, through the same preparation as `parse`."""
    return train_calibrated([prepare(e.text)[0] for e in examples], [e.intent for e in examples])


class NLU:
    """What the rest of the bot calls: `parse(text) -> dict` on the configured backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @classmethod
    def from_settings(cls, settings: Settings) -> NLU:
        """`NLU_BACKEND=builtin` (default) or `rasa` (`RASA_URL`, `RASA_TIMEOUT`), with the built-in
        model as the Rasa backend's fall-back; `NLU_CACHE_DIR`, `NLU_THRESHOLD`, `NLU_MARGIN` apply."""
        builtin = BuiltinNLU(
            cache_dir=settings.nlu_cache_dir,
            threshold=settings.nlu_threshold,
            margin=settings.nlu_margin,
        )
        if settings.nlu_backend == "rasa":
            from nlu.rasa_http import RasaHTTP

            return cls(RasaHTTP(settings.rasa_url, fallback=builtin, timeout=settings.rasa_timeout))
        return cls(builtin)

    def parse(self, text: str) -> dict[str, Any]:
        return self.backend.parse(text)

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
