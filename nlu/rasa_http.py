"""The Rasa backend: a Rasa server's `POST {RASA_URL}/model/parse` answers instead of the built-in model.

When the server does not answer (connection refused, timeout, an error status, or a body that is not a
parse), the message is parsed by the fall-back backend instead, and the server is left alone for
`retry_after` seconds, so a dead server costs one timeout per `retry_after`, not one per message.
Failures are logged with the exception type only: never the user's text.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from nlu.parser import Backend

log = logging.getLogger(__name__)


class RasaUnusableAnswer(ValueError):
    """The server answered, but not with a Rasa parse."""


class RasaHTTP:
    """`parse(text)` through Rasa's NLU HTTP API, with a timeout and a fall-back backend. Thread-safe."""

    def __init__(
        self,
        url: str,
        fallback: Backend,
        timeout: float = 2.0,
        retry_after: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.retry_after = retry_after
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._clock = clock
        self._down_until = float("-inf")
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """False while the server is being skipped after a failure."""
        return self._clock() >= self._down_until

    def parse(self, text: str) -> dict[str, Any]:
        if not self.available:
            return self.fallback.parse(text)
        try:
            response = self._client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            return _checked(response.json(), text)
        except (httpx.HTTPError, ValueError) as exc:  # JSON errors are ValueErrors too
            with self._lock:
                self._down_until = self._clock() + self.retry_after
            log.warning(
                "Rasa server %s did not answer (%s); using the built-in NLU for the next %.0f s",
                self.url,
                type(exc).__name__,
                self.retry_after,
            )
            return self.fallback.parse(text)

    def close(self) -> None:
        self._client.close()


def _checked(body: Any, text: str) -> dict[str, Any]:
    """Rasa's answer, with the keys contract §3 promises filled in where Rasa may leave them out."""
    if not isinstance(body, dict):
        raise RasaUnusableAnswer("the body is not a JSON object")
    intent = body.get("intent")
    if not isinstance(intent, dict) or not isinstance(intent.get("name"), str):
        # A Rasa model without an intent classifier answers {"name": null}: no use to the flows.
        raise RasaUnusableAnswer("the answer has no intent name")
    body.setdefault("text", text)
    body.setdefault("entities", [])
    body.setdefault("intent_ranking", [{"name": intent["name"], "confidence": intent.get("confidence", 1.0)}])
    # The flows read these fields without further checks: an answer of another shape (a proxy's error
    # page in JSON, another server at RASA_URL) must fall back rather than fail the turn.
    if not _is_number(intent.get("confidence", 1.0)):
        raise RasaUnusableAnswer("the intent's confidence is not a number")
    entities, ranking = body["entities"], body["intent_ranking"]
    if not isinstance(entities, list) or not all(
        isinstance(e, dict) and isinstance(e.get("entity"), str) for e in entities
    ):
        raise RasaUnusableAnswer("the entities are not a list of entities")
    if not isinstance(ranking, list) or not all(
        isinstance(r, dict) and isinstance(r.get("name"), str) and _is_number(r.get("confidence", 0.0))
        for r in ranking
    ):
        raise RasaUnusableAnswer("the intent ranking is not a list of intents")
    if not isinstance(body.get("fallback", {}), dict):
        raise RasaUnusableAnswer("the fallback verdict is not an object")
    return body


def _is_number(value: Any) -> bool:
    """None (the flows read it as 0) or a finite number that fits a float."""
    if value is None:
        return True
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int past 1e308
        return False
