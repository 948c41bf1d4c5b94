"""Rasa 3.x NLU training data: read and write the YAML files under `nlu/data/` and `tests/data/`.

The same files must train a Rasa model unchanged (contract §3), so the reader accepts what Rasa's own
`RasaYAMLReader` accepts and nothing looser:

- `- intent: NAME` with `examples: |` (a block of `- text` lines) or a list of `- text: ...` items;
- entity annotations `[text](entity)`, `[text](entity:value)`, `[text]{"entity": .., "value": ..,
  "role": .., "group": ..}` and `[text][{..}, {..}]` (several entities on one span);
- `- synonym: VALUE` and `- lookup: NAME` tables, `- regex: NAME` patterns.

Annotations are removed from the example text, and each entity keeps `start`/`end` offsets into the plain
text. An annotation whose `value` differs from its text is also a synonym (text → value), as in Rasa.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Rasa's own pattern (rasa/shared/nlu/training_data/entities_parser.py), so both read the same spans.
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
_SINGLE_ENTITY_DICT = re.compile(r"{(?P<entity_dict>[^}]+?)\}")
_DATA_SUFFIXES = (".yml", ".yaml")


class TrainingDataError(ValueError):
    """A training file that Rasa would reject, with the file and the offending item in the message."""


@dataclass(frozen=True)
class EntitySpan:
    """One annotated entity: `start`/`end` index the example's plain text."""

    entity: str
    value: str
    start: int
    end: int
    role: str | None = None
    group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
        }
        if self.role is not None:
            out["role"] = self.role
        if self.group is not None:
            out["group"] = self.group
        return out


@dataclass(frozen=True)
class Example:
    """One training (or test) message: plain text, its intent and its entity spans."""

    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()


@dataclass
class TrainingData:
    """Everything the NLU files hold, merged over all files in load order."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased surface text -> value
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Intent names, sorted (a stable label order for the classifier)."""
        return sorted({e.intent for e in self.examples})

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        for name, items in other.lookups.items():
            self.lookups.setdefault(name, []).extend(items)
        for name, items in other.regexes.items():
            self.regexes.setdefault(name, []).extend(items)


def parse_annotated(annotated: str) -> tuple[str, list[EntitySpan]]:
    """Split an annotated example into its plain text and entity spans.

    `"iuran brp klo gaji [2jt](amount)"`
    → `("iuran brp klo gaji 2jt", [EntitySpan("amount", "2jt", 19, 22)])`.
    Raises `TrainingDataError` for an entity dict that is not valid JSON or has no `"entity"` key.
    """
    parts: list[str] = []
    entities: list[EntitySpan] = []
    offset = 0  # length of the plain text built so far
    last = 0
    for match in ENTITY_REGEX.finditer(annotated):
        parts.append(annotated[last : match.start()])
        offset += match.start() - last
        text = match.group("entity_text")
        start, end = offset, offset + len(text)
        for attrs in _entity_attributes(match, annotated):
            value = attrs.get("value", text)
            entities.append(
                EntitySpan(
                    entity=str(attrs["entity"]),
                    value=value if isinstance(value, str) else json.dumps(value),
                    start=start,
                    end=end,
                    role=_optional_str(attrs.get("role")),
                    group=_optional_str(attrs.get("group")),
                )
            )
        parts.append(text)
        offset = end
        last = match.end()
    parts.append(annotated[last:])
    return "".join(parts), entities


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _entity_attributes(match: re.Match[str], annotated: str) -> list[dict[str, Any]]:
    if match.group("entity") is not None:
        attrs: dict[str, Any] = {"entity": match.group("entity")}
        if match.group("value") is not None:
            attrs["value"] = match.group("value")
        return [attrs]
    if match.group("entity_dict") is not None:
        return [_load_entity_dict("{" + match.group("entity_dict") + "}", annotated)]
    listed = match.group("list_entity_dicts") or ""
    return [_load_entity_dict(m.group(0), annotated) for m in _SINGLE_ENTITY_DICT.finditer(listed)]


def _load_entity_dict(raw: str, annotated: str) -> dict[str, Any]:
    try:
        attrs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"entity annotation {raw!r} in {annotated!r} is not valid JSON") from exc
    if not isinstance(attrs, dict) or "entity" not in attrs:
        raise TrainingDataError(f'entity annotation {raw!r} in {annotated!r} has no "entity" key')
    return attrs


def annotate(example: Example) -> str:
    """The inverse of `parse_annotated`: the example's text with its entities written in Rasa syntax."""
    by_span: dict[tuple[int, int], list[EntitySpan]] = {}
    for span in sorted(example.entities, key=lambda s: (s.start, s.end)):
        by_span.setdefault((span.start, span.end), []).append(span)
    out: list[str] = []
    last = 0
    for (start, end), spans in by_span.items():
        if start < last:
            raise ValueError(f"overlapping entity spans cannot be annotated: {example.text!r}")
        surface = example.text[start:end]
        out.append(example.text[last:start])
        out.append(f"[{surface}]{_annotation(spans, surface)}")
        last = end
    out.append(example.text[last:])
    return "".join(out)


def _annotation(spans: list[EntitySpan], surface: str) -> str:
    dicts = []
    for span in spans:
        attrs: dict[str, str] = {"entity": span.entity}
        if span.value != surface:
            attrs["value"] = span.value
        if span.role is not None:
            attrs["role"] = span.role
        if span.group is not None:
            attrs["group"] = span.group
        dicts.append(attrs)
    if len(dicts) > 1:
        return "[" + ", ".join(json.dumps(d, ensure_ascii=False) for d in dicts) + "]"
    if list(dicts[0]) == ["entity"]:
        return f"({spans[0].entity})"
    return json.dumps(dicts[0], ensure_ascii=False)


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML speaks YAML 1.1, where `yes`/`no`/`on`/`off` are booleans; Rasa reads YAML 1.2, where they
    are strings. A synonym or intent named `no` must stay the string "no"."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def loads(content: str, source: str = "<string>") -> TrainingData:
    """Parse one Rasa YAML document. Files without an `nlu:` key (domain, stories) give empty data."""
    try:
        document = yaml.load(content, Loader=_Yaml12Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{source}: not valid YAML: {exc}") from exc
    data = TrainingData()
    if not isinstance(document, dict) or document.get("nlu") is None:
        return data
    items = document["nlu"]
    if not isinstance(items, list):
        raise TrainingDataError(f"{source}: `nlu` must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise TrainingDataError(f"{source}: every `nlu` item must be a mapping, got {item!r}")
        _read_item(item, data, source)
    return data


def _read_item(item: dict[str, Any], data: TrainingData, source: str) -> None:
    examples = list(_example_lines(item.get("examples"), source))
    if "intent" in item:
        intent = str(item["intent"])
        for line in examples:
            text, entities = parse_annotated(line)
            data.examples.append(Example(text=text, intent=intent, entities=tuple(entities)))
            for span in entities:
                if span.value != text[span.start : span.end]:
                    data.synonyms[text[span.start : span.end].lower()] = span.value
    elif "synonym" in item:
        for line in examples:
            data.synonyms[line.lower()] = str(item["synonym"])
    elif "lookup" in item:
        data.lookups.setdefault(str(item["lookup"]), []).extend(examples)
    elif "regex" in item:
        data.regexes.setdefault(str(item["regex"]), []).extend(examples)
    else:
        raise TrainingDataError(f"{source}: unknown `nlu` item with keys {sorted(item)}")


def _example_lines(examples: Any, source: str) -> Iterator[str]:
    if examples is None:
        return
    if isinstance(examples, str):
        # Rasa skips lines that do not start with "- " (with a warning); so do we, silently.
        for line in examples.splitlines():
            if line.startswith("- "):
                yield line[1:].strip("\n\r ")
        return
    if isinstance(examples, list):
        for entry in examples:
            text = entry.get("text") if isinstance(entry, dict) else None
            if not isinstance(text, str):
                raise TrainingDataError(f"{source}: an example list item needs a `text`, got {entry!r}")
            yield text.strip("\n\r ")
        return
    raise TrainingDataError(f"{source}: `examples` must be a block string or a list")


def load_file(path: Path) -> TrainingData:
    return loads(path.read_text(encoding="utf-8"), source=str(path))


def data_files(*paths: Path) -> list[Path]:
    """The YAML files named, with directories expanded to their `*.yml`/`*.yaml` files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in _DATA_SUFFIXES and p.is_file()))
        else:
            files.append(path)
    return files


def load(*paths: Path) -> TrainingData:
    """Load and merge files and directories of Rasa NLU YAML, in `data_files` order."""
    data = TrainingData()
    for path in data_files(*paths):
        data.merge(load_file(path))
    return data


def dumps(data: TrainingData, intents_order: Iterable[str] | None = None) -> str:
    """Write Rasa 3.x YAML (`version: "3.1"`) that `loads` (and Rasa) read back to the same data.

    Synonyms learned from annotations are written as `synonym` tables too, which is harmless for Rasa.
    """
    grouped: dict[str, list[Example]] = {}
    for name in intents_order or ():
        grouped[name] = []
    for example in data.examples:
        grouped.setdefault(example.intent, []).append(example)
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in grouped.items():
        lines += _block("intent", intent, [annotate(e) for e in examples])
    by_value: dict[str, list[str]] = {}
    for surface, value in data.synonyms.items():
        by_value.setdefault(value, []).append(surface)
    for value, surfaces in by_value.items():
        lines += _block("synonym", value, surfaces)
    for kind, tables in (("lookup", data.lookups), ("regex", data.regexes)):
        for name, items in tables.items():
            lines += _block(kind, name, items)
    return "\n".join(lines) + "\n"


def _block(kind: str, name: str, items: list[str]) -> list[str]:
    out = [f"- {kind}: {json.dumps(name, ensure_ascii=False)}", "  examples: |"]
    for item in items:
        if "\n" in item or "\r" in item:
            raise ValueError(f"a training example cannot span lines: {item!r}")
        out.append(f"    - {item}")
    return out
