"""The flows' slot validators and the payload parsers on hostile input: never an exception, and either an
`Invalid` with a reason or a value of the type the form stores."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from flows import validators
from flows.message import from_parse, parse_payload
from nlu.entities.nik import NikInfo
from nlu.parser import parse_payload as nlu_parse_payload
from nlu.rasa_http import RasaUnusableAnswer, _checked
from tests.hostile.strategies import HOSTILE, HOSTILE_TEXT, JSON_VALUES, typed_payloads

TODAY = dt.date(2026, 11, 21)
PREFIXES = frozenset({"nama saya", "nama", "saya"})
NOT_NAME = frozenset({"mau", "berapa", "daftar"})
CITY_PREFIXES = frozenset({"di", "kota", "tinggal di"})
INTENTS = ("affirm", "deny", "register", "check_status", "choose")  # what parse_payload knows


@HOSTILE
@given(HOSTILE_TEXT)
@example("Robert'); DROP TABLE registrations;--")
@example("{{7*7}}")
@example("Siti\x00Aminah")
@example("\u202eharamuS itiS")
@example("AAA²")
@example("Kota ①")
def test_text_validators(text: str) -> None:
    name = validators.full_name(text, PREFIXES, NOT_NAME)
    if isinstance(name, str):
        assert 3 <= len(name) <= 60 and not any(ch.isdigit() for ch in name)
        assert all(ch.isalpha() or ch in " .'-" or "\u0300" <= ch <= "\u036f" for ch in name)
    else:
        assert isinstance(name, validators.Invalid)
    city = validators.city(text, CITY_PREFIXES)
    if isinstance(city, str):
        assert 3 <= len(city) <= 40 and "\x00" not in city and "{" not in city and ";" not in city
    else:
        assert isinstance(city, validators.Invalid)
    phone = validators.phone(text, None)
    assert isinstance(phone, validators.Invalid) or re.fullmatch(r"\+628[0-9]{8,11}", phone)
    nik = validators.nik(text, None, TODAY)
    assert isinstance(nik, NikInfo | validators.Invalid)
    compact = validators.compact_date(text, TODAY)
    assert compact is None or dt.date.fromisoformat(compact)


@HOSTILE
@given(JSON_VALUES, JSON_VALUES)
@example(float("inf"), float("nan"))
@example(10**400, "9" * 5000)
@example(json.loads("1e999"), "-1e999")
def test_numeric_validators_take_any_json_value(amount: Any, months: Any) -> None:
    """Typed payloads reach these with whatever JSON the user wrote: `/inform{"amount": 1e999}` is inf."""
    income = validators.income(amount, 1_000_000)
    assert isinstance(income, validators.Invalid) or (type(income) is int and income >= 1_000_000)
    period = validators.period(months)
    assert isinstance(period, validators.Invalid) or period in validators.PERIODS


@HOSTILE
@given(
    st.one_of(HOSTILE_TEXT, JSON_VALUES.map(str)),
    st.one_of(st.none(), st.from_regex(r"[0-9]{16}", fullmatch=True)),
)
def test_birth_date_validator(value: str, nik_digits: str | None) -> None:
    born = validators.birth_date(value, nik_digits, TODAY)
    if isinstance(born, dt.date):
        assert born < TODAY and 18 <= (TODAY - born).days // 365.25 <= 65


@HOSTILE
@given(st.lists(st.one_of(HOSTILE_TEXT, st.sampled_from(["ojol", "petani", "kurir"])), max_size=5))
def test_occupation_validator(values: list[str]) -> None:
    result = validators.occupations(values, {"ojol", "petani", "kurir"})
    assert isinstance(result, validators.Invalid) or (
        1 <= len(result) <= 2 and set(result) <= {"ojol", "petani", "kurir"}
    )


# -- payloads ---------------------------------------------------------------------------------------------
@HOSTILE
@given(st.one_of(typed_payloads(), HOSTILE_TEXT))
@example('/choose{"value": 1e999}')
@example("/affirm@1.2.3")
@example('  /inform{"nik": [1, {"a": null}]}')
def test_rasa_payload_parser(text: str) -> None:
    parsed = nlu_parse_payload(text, known=INTENTS)
    if parsed is None:
        return
    assert parsed["text"] == text
    assert 0.0 <= parsed["intent"]["confidence"] <= 1.0
    assert parsed["intent_ranking"][0]["name"] == parsed["intent"]["name"]
    for entity in parsed["entities"]:
        assert isinstance(entity["entity"], str)
        assert 0 <= entity["start"] < entity["end"] <= len(text)
        assert text[entity["start"]] == "{" and text[entity["end"] - 1] == "}"


@HOSTILE
@given(st.one_of(typed_payloads(), HOSTILE_TEXT))
def test_flow_payload_parser(text: str) -> None:
    parsed = parse_payload(text)
    if parsed is not None:
        intent, entities = parsed
        assert re.fullmatch(r"[a-z_]+", intent) and isinstance(entities, dict)


RASA_LIKE = st.fixed_dictionaries(
    {
        "intent": st.one_of(
            JSON_VALUES, st.fixed_dictionaries({"name": HOSTILE_TEXT}, optional={"confidence": JSON_VALUES})
        )
    },
    optional={
        "entities": st.one_of(
            JSON_VALUES,
            st.lists(st.dictionaries(st.sampled_from(["entity", "value", "start", "end"]), JSON_VALUES)),
        ),
        "intent_ranking": st.one_of(
            JSON_VALUES, st.lists(st.dictionaries(st.sampled_from(["name", "confidence"]), JSON_VALUES))
        ),
        "fallback": JSON_VALUES,
    },
)


@HOSTILE
@given(st.one_of(JSON_VALUES, RASA_LIKE))
@example({"intent": {"name": "greet", "confidence": [1]}})
@example({"intent": {"name": "greet", "confidence": 10**400}})
@example({"intent": {"name": "greet"}, "intent_ranking": [{"name": "greet", "confidence": float("nan")}]})
@example({"intent": {"name": "greet"}, "entities": "nik"})
@example({"intent": {"name": "greet"}, "intent_ranking": [True]})
def test_a_rasa_answer_of_any_shape_is_usable_or_refused(body: Any) -> None:
    """Whatever answers at RASA_URL: a parse the flows can read, or RasaUnusableAnswer (the backend then
    uses the built-in NLU for that message)."""
    try:
        checked = _checked(body, "halo")
    except RasaUnusableAnswer:
        return
    msg = from_parse("halo", checked)
    assert isinstance(msg.intent, str) and isinstance(msg.confidence, float)
