"""The parse JSON of contract §3 from the built-in model trained on the project's nlu/data: keys, types,
ranking, entity offsets, payloads, the out-of-scope decision, thread safety."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from nlu.entities import extract
from nlu.normalize import normalize
from nlu.parser import OUT_OF_SCOPE, RANKING_SIZE, BuiltinNLU, classifier_text, decide, parse_payload


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One cache for the session: the first module to need the real model trains it, the others load it.
    return tmp_path_factory.getbasetemp() / "nlu-cache"


@pytest.fixture(scope="module")
def nlu(cache_dir: Path) -> BuiltinNLU:
    builtin = BuiltinNLU(cache_dir=cache_dir)
    builtin.train()
    return builtin


def check_format(parse: dict[str, Any], text: str) -> None:
    assert {"text", "intent", "entities", "intent_ranking"} <= parse.keys()
    assert parse["text"] == text
    assert set(parse["intent"]) == {"name", "confidence"}
    assert isinstance(parse["intent"]["name"], str)
    assert type(parse["intent"]["confidence"]) is float
    ranking = parse["intent_ranking"]
    assert 1 <= len(ranking) <= RANKING_SIZE
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert all(type(c) is float and 0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-9
    assert len({r["name"] for r in ranking}) == len(ranking)
    for entity in parse["entities"]:
        assert {"entity", "value", "start", "end", "extractor"} <= entity.keys()
        assert 0 <= entity["start"] < entity["end"] <= len(text)
    json.dumps(parse)  # plain JSON types only


@pytest.mark.parametrize(
    "text",
    [
        "iuran brp klo gaji 2jt",
        "halo min",
        "gmn cr daftar bpjs tk",
        "sy ojol bs ikut ga",
        "kartu sy msh aktif?",
    ],
)
def test_format_of_ordinary_messages(nlu: BuiltinNLU, text: str) -> None:
    parse = nlu.parse(text)
    check_format(parse, text)
    assert len(parse["intent_ranking"]) == RANKING_SIZE
    assert set(parse["fallback"]) == {"low_confidence", "ambiguous", "threshold", "margin"}
    if not parse["fallback"]["low_confidence"]:
        assert parse["intent"] == parse["intent_ranking"][0]


def test_the_contract_example(nlu: BuiltinNLU) -> None:
    text = "iuran brp klo gaji 2jt"
    parse = nlu.parse(text)
    assert parse["intent"]["name"] == "ask_contribution"
    amounts = [e for e in parse["entities"] if e["entity"] == "amount"]
    assert [(e["value"], text[e["start"] : e["end"]]) for e in amounts] == [(2000000, "2jt")]


def test_entity_offsets_point_into_the_original_text(nlu: BuiltinNLU) -> None:
    text = "Sy  OJOL, nik 3201 0145 0690 0003 mau ikut JHT"
    parse = nlu.parse(text)
    check_format(parse, text)
    surfaces = {e["entity"]: text[e["start"] : e["end"]] for e in parse["entities"]}
    assert surfaces["nik"] == "3201 0145 0690 0003"
    assert surfaces["program"] == "JHT"
    assert surfaces["occupation"] == "OJOL"


def test_button_payloads_parse_like_rasa(nlu: BuiltinNLU) -> None:
    parse = nlu.parse("/ask_jkk")
    check_format(parse, "/ask_jkk")
    assert parse["intent"] == {"name": "ask_jkk", "confidence": 1.0}
    assert parse["entities"] == []
    assert parse["fallback"] == {
        "low_confidence": False,
        "ambiguous": False,
        "threshold": nlu.threshold,
        "margin": nlu.margin,
    }

    text = '/choose{"value": "jkk_jkm"}'
    parse = nlu.parse(text)
    check_format(parse, text)
    assert parse["intent"] == {"name": "choose", "confidence": 1.0}
    [entity] = parse["entities"]
    assert (entity["entity"], entity["value"], text[entity["start"] : entity["end"]]) == (
        "value",
        "jkk_jkm",
        '{"value": "jkk_jkm"}',
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iuran brp klo gaji 2jt", "iuran berapa kalau gaji __amount__"),
        ("gaji 3,5 juta", "gaji __amount__"),  # several tokens, one placeholder
        ("nik 3201 0145 0690 0003 tgl lahir 12 mei 1985", "nik __nik__ tanggal lahir __date__"),
        ("sy ojol mau ikut JHT", "saya ojol mau ikut jht __occupation__ __program__"),
    ],
)
def test_classifier_text_replaces_numbers_and_tags_programs_and_occupations(text: str, expected: str) -> None:
    normalized = normalize(text)
    assert classifier_text(normalized, extract(text, normalized)) == expected


def test_payload_variants() -> None:
    assert parse_payload("/affirm@0.4", known={"affirm"})["intent"] == {"name": "affirm", "confidence": 0.4}
    many = parse_payload('/inform{"program": ["jkk", "jkm"], "amount": 2000000}')
    assert many is not None
    assert [(e["entity"], e["value"]) for e in many["entities"]] == [
        ("program", "jkk"),
        ("program", "jkm"),
        ("amount", 2000000),
    ]
    broken = parse_payload('/inform{"program": jkk}')
    assert broken is not None and broken["intent"]["name"] == "inform" and broken["entities"] == []
    # a bare command that is not an intent is text for the classifier (Telegram's /start)
    assert parse_payload("/start", known={"greet"}) is None
    assert parse_payload("halo /ask_jkk", known={"ask_jkk"}) is None
    assert parse_payload("/ ask_jkk", known={"ask_jkk"}) is None


def test_telegram_start_command_goes_to_the_classifier(nlu: BuiltinNLU) -> None:
    parse = nlu.parse("/start")
    check_format(parse, "/start")
    assert parse["intent"]["name"] != "start"


@pytest.mark.parametrize("text", ["", "   ", "?!", "qwzx vbnm plkj", "xkcd zzzz qqqq"])
def test_empty_and_gibberish_are_out_of_scope(nlu: BuiltinNLU, text: str) -> None:
    parse = nlu.parse(text)
    check_format(parse, text)
    assert parse["intent"]["name"] == OUT_OF_SCOPE


def test_threshold_and_margin_are_applied_and_reported(cache_dir: Path) -> None:
    strict = BuiltinNLU(cache_dir=cache_dir, threshold=1.0, margin=1.0)
    parse = strict.parse("iuran brp klo gaji 2jt")
    assert parse["intent"] == {"name": OUT_OF_SCOPE, "confidence": 1.0}
    assert parse["fallback"] == {"low_confidence": True, "ambiguous": True, "threshold": 1.0, "margin": 1.0}
    # the model's own choices stay in the ranking, for a clarifying question
    assert parse["intent_ranking"][0]["name"] == "ask_contribution"


def test_decide() -> None:
    ranking = [("ask_jht", 0.45), ("ask_claim", 0.40), ("ask_jp", 0.15)]
    assert decide(ranking, 0.3, 0.1) == (
        {"name": "ask_jht", "confidence": 0.45},
        {"low_confidence": False, "ambiguous": True, "threshold": 0.3, "margin": 0.1},
    )
    assert decide(ranking, 0.5, 0.01)[0] == {"name": OUT_OF_SCOPE, "confidence": 0.5}
    assert decide([], 0.3, 0.1)[0]["name"] == OUT_OF_SCOPE


def test_lazy_loading_is_thread_safe(cache_dir: Path, nlu: BuiltinNLU) -> None:
    fresh = BuiltinNLU(cache_dir=cache_dir)
    loads = []
    original = fresh.cache.get_or_train

    def counting(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return original(*args, **kwargs)

    fresh.cache.get_or_train = counting  # type: ignore[method-assign]
    texts = ["halo", "iuran brp", "kartu sy msh aktif?", "mau klaim jht"] * 4
    results: list[dict[str, Any]] = [{} for _ in texts]

    def work(i: int) -> None:
        results[i] = fresh.parse(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [1]
    assert results == [nlu.parse(t) for t in texts]
