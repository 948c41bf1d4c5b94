"""The flows' user-facing content: every Indonesian word the bot says lives in flows/content/*.yml.

Layout (see flows/content/README.md): each `<stem>.yml` maps keys to entries, addressed as "<stem>.<key>":
- a text: a string, or `{text: ..., buttons: <set name or inline list>}`; `{name}` placeholders are filled
  by the flow (str.format syntax; "{{" for a literal brace);
- data: a list or a mapping without `text` (word lists the flows match against, labels, small tables).
`buttons.yml` holds named button sets (`- {title, payload}`); `_meta` holds a file's metadata (version).
rates.yml is a data file with its own loader (flows/contribution.py), which also reads occupations.yml.

Everything is checked when loaded (YAML, placeholders, lengths, payload syntax and size, button references),
and `require()` checks that the keys the code uses exist, so a content mistake stops the engine at
construction, never mid-chat.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from flows.replies import Button, Reply

DATA_FILES = frozenset({"rates.yml"})
MAX_TEXT_CHARS = 700  # one chat bubble a person reads without scrolling on a small phone
MAX_TITLE_CHARS = 40
MAX_PAYLOAD_BYTES = 64  # Telegram callback_data limit
_PAYLOAD = re.compile(r"^/[a-z_]+(\{.*\})?$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
# libyaml's safe loader when installed (7x faster: the engine loads all content at construction).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BLANKS = re.compile(r"\n{3,}")
_ALONE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class ContentError(Exception):
    """Malformed content, or a key the code needs that the content lacks."""


@dataclass(frozen=True)
class Entry:
    text: str
    buttons: tuple[Button, ...]
    fields: frozenset[str]


def payload_ok(payload: str) -> bool:
    """A Rasa-style payload "/intent" or "/intent{json object}", at most 64 bytes."""
    if len(payload.encode()) > MAX_PAYLOAD_BYTES or not _PAYLOAD.match(payload):
        return False
    brace = payload.find("{")
    if brace < 0:
        return True
    try:
        return isinstance(json.loads(payload[brace:]), dict)
    except ValueError:
        return False


def make_button(title: str, payload: str) -> Button:
    if not title or len(title) > MAX_TITLE_CHARS:
        raise ContentError(f"button title must be 1-{MAX_TITLE_CHARS} characters: {title!r}")
    if not payload_ok(payload):
        raise ContentError(f"bad button payload {payload!r}")
    return Button(title, payload)


def template_fields(text: str, where: str) -> frozenset[str]:
    try:
        names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ContentError(f"{where}: {exc}") from exc
    bad = [n for n in names if not _FIELD.match(n)]
    if bad:
        raise ContentError(f"{where}: placeholders must be plain names, got {bad}")
    return frozenset(names)


def _no_booleans(value: Any, where: str) -> None:
    """YAML 1.1 reads yes/no/on/off as booleans: a word list with `no` in it would silently hold False."""
    if isinstance(value, bool):
        raise ContentError(f"{where}: a boolean where a word was meant (quote yes/no/on/off)")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_booleans(key, where)
            _no_booleans(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _no_booleans(item, where)


class Content:
    def __init__(
        self,
        entries: dict[str, Entry],
        data: dict[str, Any],
        button_sets: dict[str, tuple[Button, ...]],
        meta: dict[str, dict[str, Any]],
    ) -> None:
        self._entries = entries
        self._data = data
        self._sets = button_sets
        self._meta = meta
        self._words: dict[str, frozenset[str]] = {}  # read-only after load; a benign race at worst

    # ---- loading -------------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path) -> Content:
        files = sorted(p for p in directory.glob("*.yml") if p.name not in DATA_FILES)
        if not files:
            raise ContentError(f"no content files in {directory}")
        raw: dict[str, dict[str, Any]] = {}
        for path in files:
            try:
                doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
            except yaml.YAMLError as exc:
                raise ContentError(f"{path.name}: {exc}") from exc
            if not isinstance(doc, dict):
                raise ContentError(f"{path.name}: must be a mapping of keys")
            raw[path.stem] = doc
        sets = {n: cls._button_list(items, f"buttons.{n}") for n, items in raw.pop("buttons", {}).items()}
        entries: dict[str, Entry] = {}
        data: dict[str, Any] = {}
        meta: dict[str, dict[str, Any]] = {}
        for stem, doc in raw.items():
            for key, value in doc.items():
                where = f"{stem}.{key}"
                if key == "_meta":
                    meta[stem] = dict(value)
                elif isinstance(value, str) or (isinstance(value, dict) and "text" in value):
                    entries[where] = cls._entry(value, where, sets)
                elif isinstance(value, list | dict):
                    _no_booleans(value, where)
                    data[where] = value
                else:
                    raise ContentError(f"{where}: expected a text, a list or a mapping")
        return cls(entries, data, sets, meta)

    @staticmethod
    def _button_list(items: Any, where: str) -> tuple[Button, ...]:
        if not isinstance(items, list) or not items:
            raise ContentError(f"{where}: a button set is a non-empty list of {{title, payload}}")
        try:
            return tuple(make_button(str(b["title"]), str(b["payload"])) for b in items)
        except (KeyError, TypeError) as exc:
            raise ContentError(f"{where}: each button needs title and payload") from exc
        except ContentError as exc:
            raise ContentError(f"{where}: {exc}") from exc

    @classmethod
    def _entry(cls, value: Any, where: str, sets: Mapping[str, tuple[Button, ...]]) -> Entry:
        text = value if isinstance(value, str) else value["text"]
        if not isinstance(text, str) or not text.strip():
            raise ContentError(f"{where}: empty text")
        text = text.strip()
        if len(text) > MAX_TEXT_CHARS:
            raise ContentError(f"{where}: {len(text)} characters, at most {MAX_TEXT_CHARS}")
        buttons: tuple[Button, ...] = ()
        spec = value.get("buttons") if isinstance(value, dict) else None
        if isinstance(spec, str):
            if spec not in sets:
                raise ContentError(f"{where}: unknown button set {spec!r}")
            buttons = sets[spec]
        elif spec is not None:
            buttons = cls._button_list(spec, where)
        return Entry(text, buttons, template_fields(text, where))

    # ---- checks --------------------------------------------------------------------------------------
    def require(
        self, texts: Iterable[str] = (), data: Iterable[str] = (), button_sets: Iterable[str] = ()
    ) -> None:
        """Raise ContentError naming every text, data entry or button set the code needs and lacks."""
        missing = [k for k in texts if k not in self._entries]
        missing += [k for k in data if k not in self._data]
        missing += [f"buttons.{k}" for k in button_sets if k not in self._sets]
        if missing:
            raise ContentError(f"content lacks {sorted(missing)}")

    def text_keys(self) -> list[str]:
        return sorted(self._entries)

    def fields(self, key: str) -> frozenset[str]:
        return self._entries[key].fields

    # ---- use -----------------------------------------------------------------------------------------
    def text(self, key: str, **values: Any) -> str:
        entry = self._entries.get(key)
        if entry is None:
            raise ContentError(f"unknown text {key!r}")
        missing = entry.fields - values.keys()
        if missing:
            raise ContentError(f"{key}: no value for {sorted(missing)}")
        if not entry.fields:
            return entry.text
        # A line that is only an optional placeholder ("{discount}") disappears when the value is empty.
        lines = []
        for line in entry.text.split("\n"):
            alone = _ALONE.fullmatch(line.strip())
            if alone and values[alone.group(1)] == "":
                continue
            lines.append(line.format_map(values))
        return _BLANKS.sub("\n\n", "\n".join(lines)).strip()

    def reply(self, key: str, buttons: Sequence[Button] | None = None, **values: Any) -> Reply:
        """The text as a Reply, with `buttons` if given, else the entry's own buttons."""
        own = self._entries[key].buttons if key in self._entries else ()
        return Reply(self.text(key, **values), tuple(buttons) if buttons is not None else own)

    def buttons(self, name: str) -> tuple[Button, ...]:
        try:
            return self._sets[name]
        except KeyError:
            raise ContentError(f"unknown button set {name!r}") from None

    def data(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise ContentError(f"unknown data {key!r}") from None

    def words(self, key: str) -> frozenset[str]:
        """A word list, lower-cased, for matching normalized user text."""
        found = self._words.get(key)
        if found is None:
            found = self._words[key] = frozenset(str(w).lower() for w in self.data(key))
        return found

    def labels(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.data(key).items()}

    def meta(self, stem: str) -> dict[str, Any]:
        return self._meta.get(stem, {})
