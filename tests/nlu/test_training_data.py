"""Checks on the hand-written NLU training data (`nlu/data/nlu_*.yml`).

Deliberately independent of the project's own loader: plain PyYAML and the same annotation grammar Rasa
uses, so a file that passes here also trains a Rasa 3.x model unchanged. What is checked:

* every file is Rasa 3.1 NLU YAML (`version: "3.1"`, `nlu:` list of `intent` + `examples: |` blocks);
* every intent of contract §1 is present with at least 60 unique examples across all files, and no other
  intent name is used;
* entity annotations are well formed, use only contract §2 entity names, and carry valid values
  (programs and occupations from their fixed lists; NIK, KPJ and phone numbers in a plausible shape);
* no example text (annotations stripped, case and punctuation ignored) appears under two intents, and no
  example is repeated.
"""

from __future__ import annotations

import json
import re
import string
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "nlu" / "data"
OCCUPATIONS_DOC = ROOT / "docs" / "occupations.md"

MIN_EXAMPLES_PER_INTENT = 60

# contract.md §1: the names are fixed, so they are spelled out here rather than read from a module the
# test would then merely echo.
CONTRACT_INTENTS = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "cancel",
    "help",
    "human_handoff",
    "ask_programs",
    "ask_jkk",
    "ask_jkm",
    "ask_jht",
    "ask_jp",
    "ask_jkp",
    "ask_contribution",
    "ask_eligibility",
    "ask_requirements",
    "register",
    "check_status",
    "ask_payment",
    "ask_claim",
    "ask_office",
    "subscribe",
    "unsubscribe",
    "delete_my_data",
    "bpjs_kesehatan",
    "out_of_scope",
)
# contract.md §2.
CONTRACT_ENTITIES = frozenset({"nik", "kpj", "phone", "date", "amount", "program", "occupation"})
PROGRAMS = frozenset({"jkk", "jkm", "jht", "jp", "jkp"})
# domain.md §6.1: the 38 province codes a NIK can start with.
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53}
    | {61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96}
)

# Rasa 3's annotation grammar: [text](entity) or [text]{"entity": ..., "value": ...}. The deprecated
# [text](entity:value) shorthand and the list form are rejected by the checks below.
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<name>[^)]*?)\)|\{(?P<json>[^}]*?)\})")
ANNOTATION_KEYS = frozenset({"entity", "value", "role", "group"})
NUMBER_SEPARATORS = re.compile(r"[\s.\-]")
PHONE = re.compile(r"^(?:0|62)8[1-35-9]\d{7,10}$")
PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})


@dataclass(frozen=True)
class Entity:
    name: str
    text: str
    value: str  # the explicit "value", or the annotated text when none is given (as Rasa does)


@dataclass(frozen=True)
class Example:
    file: str
    intent: str
    raw: str
    text: str  # what the user typed: annotations replaced by their surface text
    entities: tuple[Entity, ...]
    problems: tuple[str, ...]  # malformed annotations

    @property
    def key(self) -> str:
        """The text as a classifier sees it: case, punctuation and spacing do not make two examples differ."""
        return " ".join(self.text.lower().translate(PUNCTUATION).split())


def data_files() -> list[Path]:
    return sorted(DATA_DIR.glob("nlu_*.yml"))


def load_yaml(path: Path) -> object:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def parse_example(file: str, intent: str, raw: str) -> Example:
    """Split one example line into its plain text and its entity annotations, noting any malformation."""
    entities: list[Entity] = []
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        surface = match["text"]
        if match["name"] is not None:
            name = match["name"].strip()
            if ":" in name:
                problems.append(f"shorthand [..](entity:value) is deprecated in Rasa 3: {match[0]}")
            entities.append(Entity(name, surface, surface))
            return surface
        try:
            spec = json.loads("{" + match["json"] + "}")
        except json.JSONDecodeError:
            problems.append(f"annotation is not JSON: {match[0]}")
            return surface
        if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
            problems.append(f"annotation has no entity name: {match[0]}")
            return surface
        if set(spec) - ANNOTATION_KEYS:
            problems.append(f"unknown annotation keys {sorted(set(spec) - ANNOTATION_KEYS)}: {match[0]}")
        value = spec.get("value", surface)
        if not isinstance(value, str):
            problems.append(f"annotation value must be a string: {match[0]}")
            value = str(value)
        entities.append(Entity(spec["entity"], surface, value))
        return surface

    text = ANNOTATION.sub(replace, raw)
    if any(char in text for char in "[]{}"):
        problems.append(f"stray bracket (unclosed or malformed annotation): {raw}")
    return Example(file, intent, raw, text, tuple(entities), tuple(problems))


def iter_examples() -> list[Example]:
    """Every example of every data file; files that are not valid Rasa YAML are reported by their own test."""
    examples: list[Example] = []
    for path in data_files():
        document = load_yaml(path)
        if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
            continue
        for block in document["nlu"]:
            if not isinstance(block, dict) or not isinstance(block.get("examples"), str):
                continue
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    examples.append(parse_example(path.name, str(block.get("intent")), line.strip()[2:]))
    return examples


def occupation_values() -> frozenset[str]:
    """The first column of the value table in docs/occupations.md."""
    values: set[str] = set()
    in_table = False
    for line in OCCUPATIONS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            in_table = False
        elif cells[0] == "value":
            in_table = True
        elif in_table and not set(cells[0]) <= set("-: "):
            values.add(cells[0])
    return frozenset(values)


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return iter_examples()


def test_data_files_exist() -> None:
    assert data_files(), f"no nlu_*.yml files in {DATA_DIR}"


def test_occupation_list_is_readable() -> None:
    values = occupation_values()
    assert {"ojol", "petani", "nelayan", "pedagang pasar"} <= values
    assert all(value == value.lower() and "|" not in value for value in values)


@pytest.mark.parametrize("path", data_files(), ids=lambda path: path.name)
def test_file_is_rasa_nlu_yaml(path: Path) -> None:
    document = load_yaml(path)
    assert isinstance(document, dict), "top level must be a mapping"
    assert set(document) <= {"version", "nlu"}, f"unexpected top-level keys {set(document)}"
    assert document.get("version") == "3.1", 'version must be the string "3.1"'
    blocks = document.get("nlu")
    assert isinstance(blocks, list) and blocks, "nlu must be a non-empty list"
    for block in blocks:
        assert isinstance(block, dict), f"nlu item is not a mapping: {block!r}"
        assert set(block) <= {"intent", "examples", "metadata"}, f"unexpected keys {set(block)}"
        assert isinstance(block.get("intent"), str), f"item without intent name: {block!r}"
        assert isinstance(block.get("examples"), str), f"{block['intent']}: examples must be a `|` block"
        lines = [line.strip() for line in block["examples"].splitlines() if line.strip()]
        assert lines, f"{block['intent']}: no examples"
        bad = [line for line in lines if not line.startswith("- ") or not line[2:].strip()]
        assert not bad, f"{block['intent']}: lines that are not '- example': {bad[:5]}"


def test_only_contract_intents(examples: list[Example]) -> None:
    unknown = sorted({example.intent for example in examples} - set(CONTRACT_INTENTS))
    assert not unknown, f"intents not in contract §1: {unknown}"


@pytest.mark.parametrize("intent", CONTRACT_INTENTS)
def test_intent_has_enough_unique_examples(intent: str, examples: list[Example]) -> None:
    unique = {example.key for example in examples if example.intent == intent}
    assert len(unique) >= MIN_EXAMPLES_PER_INTENT, (
        f"{intent}: {len(unique)} unique examples, need {MIN_EXAMPLES_PER_INTENT}"
    )


def test_annotations_are_well_formed(examples: list[Example]) -> None:
    problems = [f"{e.file} {e.intent}: {problem}" for e in examples for problem in e.problems]
    assert not problems, "\n".join(problems[:20])


def test_entities_use_contract_names(examples: list[Example]) -> None:
    wrong = [
        f"{e.file} {e.intent}: {entity.name!r} in {e.raw}"
        for e in examples
        for entity in e.entities
        if entity.name not in CONTRACT_ENTITIES
    ]
    assert not wrong, "\n".join(wrong[:20])


def entity_value_problem(entity: Entity, occupations: frozenset[str]) -> str | None:
    """Why an annotated value is not a valid normalized value of its entity, or None when it is."""
    digits = NUMBER_SEPARATORS.sub("", entity.value).removeprefix("+")
    if entity.name == "program" and entity.value not in PROGRAMS:
        return f"program value {entity.value!r} not in {sorted(PROGRAMS)}"
    if entity.name == "occupation" and entity.value not in occupations:
        return f"occupation value {entity.value!r} not in docs/occupations.md"
    if entity.name == "nik":
        if not (len(digits) == 16 and digits.isdigit()):
            return f"nik {entity.value!r} is not 16 digits"
        day, month = int(digits[6:8]), int(digits[8:10])
        if int(digits[:2]) not in PROVINCE_CODES:
            return f"nik {entity.value!r} has no real province code"
        if not (1 <= day <= 31 or 41 <= day <= 71) or not 1 <= month <= 12:
            return f"nik {entity.value!r} has an impossible birth date part"
    if entity.name == "kpj" and not (len(digits) == 11 and digits.isdigit()):
        return f"kpj {entity.value!r} is not 11 digits"
    if entity.name == "phone" and not PHONE.match(digits):
        return f"phone {entity.value!r} is not an Indonesian mobile number"
    if not entity.text.strip() or entity.text != entity.text.strip():
        return f"annotated text {entity.text!r} is empty or has surrounding spaces"
    return None


def test_entity_values_are_valid(examples: list[Example]) -> None:
    occupations = occupation_values()
    wrong = [
        f"{e.file} {e.intent}: {problem} in {e.raw}"
        for e in examples
        for entity in e.entities
        if (problem := entity_value_problem(entity, occupations))
    ]
    assert not wrong, "\n".join(wrong[:20])


def test_no_example_under_two_intents(examples: list[Example]) -> None:
    intents_by_text: dict[str, set[str]] = defaultdict(set)
    for example in examples:
        intents_by_text[example.key].add(example.intent)
    clashes = {text: sorted(intents) for text, intents in intents_by_text.items() if len(intents) > 1}
    assert not clashes, f"examples under more than one intent: {clashes}"


def test_no_repeated_example(examples: list[Example]) -> None:
    seen: dict[tuple[str, str], Example] = {}
    repeats: list[str] = []
    for example in examples:
        previous = seen.setdefault((example.intent, example.key), example)
        if previous is not example:
            repeats.append(f"{example.intent}: {previous.raw!r} ({previous.file}) and {example.raw!r}")
    assert not repeats, "\n".join(repeats[:20])


def test_checker_catches_bad_annotations() -> None:
    """The checks above must be able to fail: feed them the mistakes they exist to catch."""
    occupations = occupation_values()
    assert parse_example("f", "i", "[jht](program:jht) itu apa").problems
    assert parse_example("f", "i", '[jht]{"entity": program} itu apa').problems
    assert parse_example("f", "i", "[jht(program) itu apa").problems
    program = parse_example("f", "i", "[JHT](program) itu apa").entities[0]
    assert entity_value_problem(program, occupations)
    occupation = parse_example("f", "i", "[tukang ojek](occupation)").entities[0]
    assert entity_value_problem(occupation, occupations)
    normalized = parse_example("f", "i", '[tukang ojek]{"entity": "occupation", "value": "ojek pangkalan"}')
    assert normalized.text == "tukang ojek"
    assert entity_value_problem(normalized.entities[0], occupations) is None
    assert entity_value_problem(Entity("nik", "x", "9901014506900003"), occupations)  # no province 99
    assert entity_value_problem(Entity("nik", "x", "3201013506900003"), occupations)  # day 35
    assert entity_value_problem(Entity("nik", "x", "3201 0145 0690 0003"), occupations) is None
    assert entity_value_problem(Entity("kpj", "x", "2103456789"), occupations)
    assert entity_value_problem(Entity("phone", "x", "+62 813 1234 5678"), occupations) is None
    assert entity_value_problem(Entity("phone", "x", "021 555 1234"), occupations)
    assert parse_example("f", "i", "Makasih, MIN!").key == parse_example("f", "i", "makasih min").key


def test_the_code_knows_the_contract_intents() -> None:
    from nlu.intents import INTENTS

    assert INTENTS == CONTRACT_INTENTS
