"""The user's message as the flows see it: one intent, its entities, and how sure the NLU was.

A message is either a button payload (pressed, typed as "/ask_jkk", or resolved from "2" / the button's
words by flows.choices) — then it is certain — or the NLU's Rasa parse of the text (contract §3).
Payloads are parsed here, not by the NLU, so a numbered answer needs no second NLU call.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flows import choices
from nlu.normalize import normalize as expand_slang

# Used only when the parse carries no "fallback" verdict of its own.
LOW_CONFIDENCE = 0.5
AMBIGUOUS_MARGIN = 0.1
_START = re.compile(r"^/start(?:@\w+)?(?:\s+\S+)?$")


@dataclass(frozen=True)
class Msg:
    text: str
    norm: str  # choices.normalize(text)
    intent: str
    confidence: float
    entities: tuple[tuple[str, Any], ...] = ()
    ranking: tuple[tuple[str, float], ...] = ()
    low_confidence: bool = False
    ambiguous: bool = False
    payload: str | None = None  # set when the message is a button payload

    @cached_property
    def plain(self) -> str:
        """`norm` with chat slang spelled out ("yg murah aja" -> "yang murah saja", "3bln" -> "3 bulan"), for
        matching phrase lists that are written in plain words."""
        return choices.normalize(expand_slang(self.text).text)

    @property
    def confident(self) -> bool:
        return self.payload is not None or not (self.low_confidence or self.ambiguous)

    def value(self, name: str) -> Any | None:
        for entity, value in self.entities:
            if entity == name:
                return value
        return None

    def values(self, name: str) -> list[Any]:
        return [value for entity, value in self.entities if entity == name]

    @property
    def choice(self) -> str | None:
        """The value of a `/choose{"value": ...}` payload."""
        if self.intent != "choose":
            return None
        value = self.value("value")
        return None if value is None else str(value)

    def is_intent(self, *names: str) -> bool:
        """True when the message is one of these intents and the NLU (or a button) is sure of it."""
        return self.intent in names and self.confident


def parse_payload(payload: str) -> tuple[str, dict[str, Any]] | None:
    """ "/choose{"value":"3"}" -> ("choose", {"value": "3"}); None when not a payload."""
    match = re.fullmatch(r"/([a-z_]+)(\{.*\})?", payload.strip())
    if not match:
        return None
    entities: dict[str, Any] = {}
    if match.group(2):
        try:
            loaded = json.loads(match.group(2))
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        entities = {k: v for k, v in ((k, _entity_value(v)) for k, v in loaded.items()) if v is not None}
    return match.group(1), entities


def _entity_value(value: Any) -> str | None:
    """A payload value as the flows read it: a string, like every button the bot offers. Users can type a
    payload by hand, so a number becomes its digits and anything else (a list, an object, null, 1e999)
    is dropped rather than reaching a validator that expects text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def from_payload(text: str, payload: str) -> Msg | None:
    parsed = parse_payload(payload)
    if parsed is None:
        return None
    intent, entities = parsed
    return Msg(
        text=text,
        norm=choices.normalize(text),
        intent=intent,
        confidence=1.0,
        entities=tuple(entities.items()),
        ranking=((intent, 1.0),),
        payload=payload,
    )


def from_parse(text: str, parse: dict[str, Any]) -> Msg:
    intent = parse.get("intent") or {}
    name = str(intent.get("name") or "out_of_scope")
    confidence = float(intent.get("confidence") or 0.0)
    ranking = tuple(
        (str(r.get("name")), float(r.get("confidence") or 0.0)) for r in parse.get("intent_ranking") or ()
    )
    fallback = parse.get("fallback")
    if isinstance(fallback, dict):
        low, ambiguous = bool(fallback.get("low_confidence")), bool(fallback.get("ambiguous"))
    else:
        low = confidence < LOW_CONFIDENCE
        ambiguous = len(ranking) > 1 and ranking[0][1] - ranking[1][1] < AMBIGUOUS_MARGIN
    entities = tuple(
        (str(e.get("entity")), e.get("value")) for e in parse.get("entities") or () if e.get("entity")
    )
    return Msg(text, choices.normalize(text), name, confidence, entities, ranking, low, ambiguous)


def build(text: str, parse: dict[str, Any], offered: choices.Offered) -> Msg:
    """The message of a turn: an offered button if `text` designates one, a payload typed as text, the
    Telegram /start command, else the NLU parse."""
    stripped = text.strip()
    if _START.match(stripped):
        return Msg(text, "start", "start", 1.0, payload="/start")
    chosen = choices.resolve(stripped, offered)
    if chosen is not None:
        msg = from_payload(text, chosen)
        if msg is not None:
            return msg
    if stripped.startswith("/"):
        msg = from_payload(text, stripped)
        if msg is not None:
            return msg
    return from_parse(text, parse)
