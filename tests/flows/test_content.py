"""Content validation: every key the code uses exists with the placeholders the code fills, every text is
short, payloads are valid and fit Telegram's 64 bytes, and a content mistake stops the engine at
construction (not mid-chat)."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from flows import engine as engine_module
from flows.content import MAX_PAYLOAD_BYTES, Content, ContentError, payload_ok
from flows.contribution import CONTENT_DIR
from flows.engine import MODULES, Engine
from flows.message import parse_payload
from tests.flows.fakes import FakeServices

FLOWS_DIR = Path(engine_module.__file__).parent
CONTENT = Content.load(CONTENT_DIR)
DECLARED = {k for m in (*MODULES, engine_module) for k in getattr(m, "TEXTS", ())}
CALLS = ("say", "text", "reply", "button")


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(FLOWS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CALLS
                and node.args
            ):
                found.append((path.name, node))
    return found


def test_every_literal_key_the_code_uses_exists_and_gets_its_placeholders() -> None:
    checked = 0
    for where, call in _calls():
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value):
            continue
        key = first.value
        assert key in CONTENT.text_keys(), f"{where}: {key} is not in the content"
        assert key in DECLARED, f"{where}: {key} is used but not declared in a TEXTS tuple"
        if any(kw.arg is None for kw in call.keywords):
            continue  # **values: checked by the conversation tests
        given = {kw.arg for kw in call.keywords} - {"buttons"}
        assert CONTENT.fields(key) <= given, f"{where}: {key} needs {sorted(CONTENT.fields(key) - given)}"
        checked += 1
    assert checked > 50


def test_every_computed_key_has_content() -> None:
    prefixes = []
    for where, call in _calls():
        first = call.args[0]
        if isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
            prefixes.append((where, str(first.values[0].value)))
    assert prefixes
    for where, prefix in prefixes:
        assert any(k.startswith(prefix) for k in CONTENT.text_keys()), f"{where}: no {prefix}*"


def test_no_orphan_texts_and_every_declared_key_exists() -> None:
    assert set(CONTENT.text_keys()) - DECLARED == set()
    assert DECLARED - set(CONTENT.text_keys()) == set()


def test_every_text_is_short() -> None:
    for key in CONTENT.text_keys():
        raw = CONTENT._entries[key].text  # the template: the limit holds before values are filled in
        assert len(raw) <= 650, f"{key}: {len(raw)} characters"
        assert all(len(line) <= 260 for line in raw.splitlines()), f"{key}: a line is too long to read"


def test_no_user_facing_indonesian_in_code() -> None:
    """Texts live in content: no Indonesian sentence in a string literal of flows/*.py."""
    words = re.compile(r"\b(anda|silakan|mohon|terima kasih|pendaftaran|saya)\b", re.I)
    for path in sorted(FLOWS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert not words.search(node.value), f"{path.name}: {node.value!r}"


def test_button_sets_have_valid_short_payloads_of_handled_intents() -> None:
    handled = {"choose", "menu", "affirm", "deny", "cancel", "help", *engine_module.intents.INTERRUPTING}
    for name, buttons in CONTENT._sets.items():
        for b in buttons:
            assert payload_ok(b.payload) and len(b.payload.encode()) <= MAX_PAYLOAD_BYTES, (name, b.payload)
            parsed = parse_payload(b.payload)
            assert parsed is not None and parsed[0] in handled, (name, b.payload)


def test_generated_payloads_fit_telegram() -> None:
    occupations = yaml.safe_load((CONTENT_DIR / "occupations.yml").read_text())["occupations"]
    for o in occupations:
        payload = "/choose" + json.dumps({"value": o["value"]}, separators=(",", ":"))
        assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
        assert len(o["title"]) <= 40
    longest_carry = '/check_status{"nik":"3201014506900003"}'
    assert len(longest_carry.encode()) <= MAX_PAYLOAD_BYTES


def test_occupations_match_the_shared_list() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "occupations.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z ]+) \| (transport|other) \|", doc, re.M)
    ours = yaml.safe_load((CONTENT_DIR / "occupations.yml").read_text())["occupations"]
    assert [(o["value"], o["sector"]) for o in ours] == [(v.strip(), s) for v, s in rows]


def test_consent_text_is_versioned() -> None:
    assert CONTENT.meta("consent").get("version")


# ---- a content mistake stops the engine at construction ------------------------------------------------
@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("status.yml", "ask_id:", "ask_idd:", "status.ask_id"),  # a key the code needs
        ("menu.yml", 'thanks: "', 'thanks: "{', "thanks"),  # broken placeholder
        ("menu.yml", "thanks:", "thanks: [", "menu.yml"),  # broken YAML
        ("buttons.yml", '"/ask_programs"}', '"/ask programs"}', "payload"),
        (
            "buttons.yml",
            '"Info manfaat", payload: "/ask_programs"}',
            '"Info", payload: "/choose{\\"value\\":\\"' + "x" * 60 + '\\"}"}',
            "payload",
        ),
        ("status.yml", "buttons: after_status", "buttons: no_such_set", "no_such_set"),
        ("vocab.yml", '"no", nope', "no, nope", "boolean"),
        ("handoff.yml", "human: |-", "human: |-\n  " + "panjang " * 100 + "\n ", "characters"),
        (
            "rates.yml",
            'percent_off: "50"\n    sector: transport',
            'percent_off: "50"\n    sector: ufo',
            "sector",
        ),
    ],
)
def test_content_mistakes_fail_at_construction(
    content_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(content_copy / file, old, new)
    with pytest.raises((ContentError, ValueError), match=message):
        Engine(FakeServices(), content_copy)


def test_the_packaged_content_builds_an_engine(content_copy: Path) -> None:
    Engine(FakeServices(), content_copy)


def test_every_event_type_is_documented() -> None:
    doc = (FLOWS_DIR / "events.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", doc, re.M))
    emitted = set()
    for path in sorted(FLOWS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "emit"
            ):
                first = node.args[0]
                assert isinstance(first, ast.Constant), f"{path.name}: event types are literals"
                emitted.add(first.value)
    assert emitted and emitted == documented
