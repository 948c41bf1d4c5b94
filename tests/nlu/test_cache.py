"""The on-disk model cache: a miss trains and stores, a hit loads the same model, a data change rebuilds,
an unreadable entry is retrained, old entries are pruned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings, load_settings
from nlu import model_cache
from nlu.model_cache import ModelCache, default_cache_dir, fingerprint
from nlu.parser import DEFAULT_MARGIN, DEFAULT_THRESHOLD, NLU, BuiltinNLU

TINY = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - halo
    - hai min
    - pagi kak
    - assalamualaikum
    - permisi
    - halo kak
- intent: ask_contribution
  examples: |
    - iuran brp klo gaji [2jt](amount)
    - berapa iurannya sebulan
    - iuran bpu berapa
    - klo penghasilan [800rb](amount) bayar brp
    - iuran per bulan brp
    - bayar iuran berapa
- intent: ask_jkk
  examples: |
    - apa itu jkk
    - klo kecelakaan kerja dapat apa
    - jkk nanggung apa aja
    - kecelakaan pas kerja ditanggung ga
    - manfaat jkk apa
    - jaminan kecelakaan kerja itu apa
"""
MORE = """\
- intent: goodbye
  examples: |
    - dadah
    - sampai jumpa
    - pamit dulu
    - bye min
    - daah
    - see you
"""
PROBES = ["halo min", "iuran brp", "kecelakaan kerja", "dadah kak"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "nlu.yml").write_text(TINY, encoding="utf-8")
    return directory


def ranking(nlu: BuiltinNLU, text: str) -> list[tuple[str, float]]:
    return [(r["name"], r["confidence"]) for r in nlu.parse(text)["intent_ranking"]]


def test_miss_then_hit_gives_the_same_model(data_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = BuiltinNLU([data_dir], cache_dir=cache)
    first.train()
    assert first.last_load_from_cache is False
    assert (cache / first.cache_key() / "classifier.npz").is_file()

    second = BuiltinNLU([data_dir], cache_dir=cache)
    second.train()
    assert second.last_load_from_cache is True
    assert [ranking(first, t) for t in PROBES] == [ranking(second, t) for t in PROBES]


def test_a_data_change_rebuilds(data_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = BuiltinNLU([data_dir], cache_dir=cache)
    before.train()
    key_before = before.cache_key()
    assert "goodbye" not in before.classifier.labels

    (data_dir / "nlu.yml").write_text(TINY + MORE, encoding="utf-8")
    after = BuiltinNLU([data_dir], cache_dir=cache)
    assert after.cache_key() != key_before
    after.train()
    assert after.last_load_from_cache is False
    assert "goodbye" in after.classifier.labels
    assert after.parse("dadah kak")["intent"]["name"] == "goodbye"

    key_after = after.cache_key()
    (data_dir / "extra.yml").write_text("nlu:\n- lookup: x\n  examples: |\n    - y\n", encoding="utf-8")
    assert BuiltinNLU([data_dir], cache_dir=cache).cache_key() != key_after  # a new file counts too


def test_the_key_covers_the_model_code_version(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(data_dir.iterdir())
    before = fingerprint(files)
    assert fingerprint(files) == before
    monkeypatch.setattr(model_cache, "MODEL_VERSION", "another")
    assert fingerprint(files) != before
    assert any(p.name == "classifier.py" for p in model_cache.code_files())


def test_an_unreadable_entry_is_retrained(data_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    nlu = BuiltinNLU([data_dir], cache_dir=cache)
    nlu.train()
    (cache / nlu.cache_key() / "classifier.json").write_text("{not json", encoding="utf-8")
    again = BuiltinNLU([data_dir], cache_dir=cache)
    again.train()
    assert again.last_load_from_cache is False
    assert again.parse("halo min")["intent"]["name"] == "greet"
    assert BuiltinNLU([data_dir], cache_dir=cache).train() is not None


def test_old_entries_are_pruned(data_dir: Path, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "cache", keep=2)
    model = BuiltinNLU([data_dir], cache_dir=tmp_path / "other").train()
    for key in ("a", "b", "c"):
        cache.store(key, model)
    assert sorted(p.name for p in cache.directory.iterdir()) == ["b", "c"]
    loaded = cache.load("c")
    assert loaded is not None and np.array_equal(loaded.predict("halo"), model.predict("halo"))
    assert cache.load("a") is None


def test_cache_location_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir(None) == Path.home() / ".cache" / "jamsosbot" / "nlu"
    defaults = Settings.model_fields
    assert (defaults["nlu_threshold"].default, defaults["nlu_margin"].default) == (
        DEFAULT_THRESHOLD,
        DEFAULT_MARGIN,
    )
    monkeypatch.setenv("NLU_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("NLU_THRESHOLD", "0.45")
    nlu = NLU.from_settings(load_settings())
    assert isinstance(nlu.backend, BuiltinNLU)
    assert nlu.backend.cache.directory == tmp_path / "c"
    assert nlu.backend.threshold == 0.45
