"""The value every entity finder returns, before the combiner resolves overlaps."""

from __future__ import annotations

from dataclasses import dataclass

EXTRACTOR = "JamsosbotEntityExtractor"


@dataclass(frozen=True)
class Candidate:
    """One entity found in a text: `start`/`end` index the ORIGINAL text, `value` is already normalized
    exactly as contract §2 requires (a string, or an int for `amount`)."""

    entity: str
    value: str | int
    start: int
    end: int

    def as_rasa(self) -> dict[str, str | int]:
        """The Rasa entity dict for this candidate."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "extractor": EXTRACTOR,
        }
