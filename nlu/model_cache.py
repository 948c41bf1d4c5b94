"""The on-disk cache of trained intent classifiers.

A model is stored under `<cache dir>/<key>/`, where the key is a SHA-256 over the training data files, the
classifier's `MODEL_VERSION` and the NLU code and resources that shape its input (normalization
dictionaries, entity extractors). Any change to those gives a new key, so a stale model is never loaded:
it is simply not found, and the next use trains a fresh one.

Writes are atomic (a temporary directory renamed into place), so concurrent processes can share one
cache: at worst two of them train the same model and one copy is discarded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from nlu.classifier import MODEL_VERSION, IntentClassifier

log = logging.getLogger(__name__)

NLU_PACKAGE = Path(__file__).resolve().parent
_CODE_SUFFIXES = {".py", ".yml", ".yaml", ".json", ".tsv", ".txt", ".csv"}


def default_cache_dir(configured: Path | None = None) -> Path:
    """`Settings.nlu_cache_dir` when set, else `~/.cache/jamsosbot/nlu`."""
    return configured if configured is not None else Path.home() / ".cache" / "jamsosbot" / "nlu"


def code_files() -> list[Path]:
    """Source and resource files of the `nlu` package: a change to any of them may change the model's
    input or training, so each is part of the cache key."""
    return sorted(
        p
        for p in NLU_PACKAGE.rglob("*")
        if p.is_file() and p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts
    )


def fingerprint(files: Iterable[Path], extra: str = "") -> str:
    """SHA-256 over each file's name and bytes, in the order given, plus `extra`."""
    digest = hashlib.sha256(f"model {MODEL_VERSION}\n{extra}\n".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


class ModelCache:
    """Trained classifiers by key, in one directory; only the `keep` most recent entries are kept."""

    def __init__(self, directory: Path, keep: int = 3) -> None:
        self.directory = directory
        self.keep = keep

    def path(self, key: str) -> Path:
        return self.directory / key

    def load(self, key: str) -> IntentClassifier | None:
        """The cached model for `key`, or None when absent or unreadable (it is then retrained)."""
        path = self.path(key)
        if not path.is_dir():
            return None
        try:
            return IntentClassifier.load(path)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("discarding unreadable NLU model cache %s: %s", path, exc)
            shutil.rmtree(path, ignore_errors=True)
            return None

    def store(self, key: str, model: IntentClassifier) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.directory))
        model.save(staging)
        target = self.path(key)
        shutil.rmtree(target, ignore_errors=True)  # a forced retrain replaces the entry
        try:
            os.rename(staging, target)
        except OSError:  # another process stored the same key in between; theirs is as good as ours
            shutil.rmtree(staging, ignore_errors=True)
        self._prune(target)
        return target

    def get_or_train(self, key: str, train: Callable[[], IntentClassifier]) -> tuple[IntentClassifier, bool]:
        """The model for `key` and whether it came from the cache (True) or was trained now (False)."""
        model = self.load(key)
        if model is not None:
            return model, True
        log.info("training the NLU model (no cached model for key %s)", key[:12])
        model = train()
        self.store(key, model)
        return model, False

    def _prune(self, current: Path) -> None:
        entries = [p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith(".")]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in [p for p in entries if p != current][max(self.keep - 1, 0) :]:
            shutil.rmtree(stale, ignore_errors=True)
